"""``modelkiln build`` with MODELKILN_WEIGHTS: the source's large files in a layer of their own.

The files the patterns name (``builder.weights``) are put into the app folder of the image the
build starts from (the builder image, or for a slim build also the runtime image) and that
container is committed: an image whose top layer holds the weights alone, labelled with a
digest of that base image and of the files' names, modes and contents, and tagged with it.
The next build with the same base and files finds it by that tag and starts from it again,
so its weights layer is the very same layer, and a registry that has it already is not sent it
again. The code, the
packages and the rest of the source go into the layer above, as before.
"""

import hashlib
import os
import tarfile
from typing import Any, Dict, List, Optional

from builder.weights import compile_patterns, weight_files

from .staging import BuildError, say, split_tag

DIGEST_LABEL = "io.modelkiln.weights-digest"
APP_DIR = "/opt/app-root/src"
REPOSITORY = "modelkiln-weights"


def find(env: Dict[str, str], root: str) -> List[str]:
    """The source's weight files (relative paths), from the build variable."""
    try:
        patterns = compile_patterns(env.get("MODELKILN_WEIGHTS", ""))
    except ValueError as exc:
        raise BuildError(str(exc)) from exc
    files = weight_files(root, patterns)
    if patterns and not files:
        say("WARNING: MODELKILN_WEIGHTS=%r names no file of the source: one layer, as without it"
            % env.get("MODELKILN_WEIGHTS"))
    return files


def content_digest(root: str, files: List[str]) -> str:
    """A digest of the files' names, modes and contents."""
    total = hashlib.sha256()
    for relative in files:
        path = os.path.join(root, relative)
        content = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                content.update(block)
        total.update(("\0%s\0%o\0%s" % (relative, os.stat(path).st_mode & 0o777,
                                         content.hexdigest())).encode())
    return total.hexdigest()


def digest(base_id: str, root: str, files: List[str]) -> str:
    """The key of the weights image of these files on the image ``base_id``."""
    return _key(base_id, content_digest(root, files))


def _key(base_id: str, content: str) -> str:
    return hashlib.sha256(("%s\0%s" % (base_id, content)).encode()).hexdigest()


def write_tar(root: str, files: List[str], uid: int, target: str) -> None:
    """The weights as an archive for the app folder: their folders and files owned by the
    image's user and group 0, group rights equal to the owner's (OpenShift's UIDs)."""
    folders = sorted({"/".join(f.split("/")[:depth]) for f in files
                      for depth in range(1, f.count("/") + 1)})
    with tarfile.open(target, "w") as tar:
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o775, uid, 0
            tar.addfile(info)
        for relative in files:
            path = os.path.join(root, relative)
            info = tar.gettarinfo(path, arcname=relative)
            info.uid, info.gid, info.uname, info.gname = uid, 0, "", ""
            info.mode = info.mode | ((info.mode & 0o700) >> 3)
            info.mtime = 0  # (the digest stands for the content)
            with open(path, "rb") as handle:
                tar.addfile(info, handle)


class Weights(object):
    """One build's weight files: read, digested and archived once however many images they
    go on (the builder image; for --slim the runtime image too), and the weights images the
    build started from (``images``)."""

    def __init__(self, root: str, files: List[str], uid: int, workdir: str,
                 app_tag: str) -> None:
        self.root, self.files, self.uid = root, files, uid
        self.workdir, self.app_tag = workdir, app_tag
        self.images = []  # type: List[Any]
        self._content = None  # type: Optional[str]
        self._archive = None  # type: Optional[str]

    def layer_image(self, client: Any, base: Any) -> Any:
        """``base`` with the weights in a layer of their own: the one a build made before,
        when the base and the files are the same, else a new one."""
        if self._content is None:
            self._content = content_digest(self.root, self.files)
        key = _key(base.id, self._content)
        size = sum(os.path.getsize(os.path.join(self.root, f)) for f in self.files) / 1048576.0
        repository = _repository(self.app_tag)
        try:  # (by name: images built on it carry its label too)
            found = client.images.get("%s:%s" % (repository, key[:16]))
        except Exception:  # docker.errors.ImageNotFound
            found = None
        if found is not None and (found.labels or {}).get(DIGEST_LABEL) == key:
            say("weights: %d file(s), %.1f MiB, unchanged: their layer is reused"
                % (len(self.files), size))
            self.images.append(found)
            return found
        say("weights: %d file(s), %.1f MiB, into a layer of their own"
            % (len(self.files), size))
        if self._archive is None:  # (in the build's work folder, removed with it)
            self._archive = os.path.join(self.workdir, "weights.tar")
            write_tar(self.root, self.files, self.uid, self._archive)
        container = client.containers.create(base.id, command=["true"])
        try:
            with open(self._archive, "rb") as handle:
                if not container.put_archive(APP_DIR, handle):
                    raise BuildError("could not copy the weights into %s" % APP_DIR)
            image = container.commit(repository=repository, tag=key[:16],
                                     conf={"Labels": {DIGEST_LABEL: key}})
        finally:
            container.remove(force=True)
        self.images.append(image)
        return image

    def forget_others(self, client: Any) -> None:
        """Untag this app's weights images other than this build's (their layers stay while
        an image is built on them)."""
        kept = [image.id for image in self.images]
        repository = _repository(self.app_tag)
        for image in client.images.list(name=repository):
            for tag in image.tags:
                if tag.startswith(repository + ":") and image.id not in kept:
                    try:
                        client.images.remove(tag, noprune=True)
                    except Exception:  # (in use, or gone already: it does not matter)
                        pass


def _repository(app_tag: str) -> str:
    """Where this app's weights images are kept: modelkiln-weights/<app repository>."""
    return "%s/%s" % (REPOSITORY, split_tag(app_tag)[0].replace("/", "-"))


def excluded(files: Optional[List[str]], prefix: str) -> set:
    """Archive names of the weight files below ``prefix`` (an archive's top folder)."""
    return {prefix + f for f in files or ()}
