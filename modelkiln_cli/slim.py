"""``modelkiln build --slim``: the app is assembled on the builder image as always, then runs
on the builder's runtime image, which has no build tools.

As s2i does it with ``--runtime-image``: the artifacts the runtime image names (its label
``io.openshift.s2i.assemble-input-files``: the app's /opt/app-root) are copied from the
stopped build container into the runtime image's working folder, its ``assemble-runtime``
runs there (as the user its label ``io.openshift.s2i.assemble-runtime-user`` names), and that
container is committed as the app image with the runtime image's user, entrypoint and ports.
The copy streams from one container to the other: nothing of the app lands on this machine.
"""

import io
import os
import tarfile
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

from . import weights
from .engine import commit_app, stream_output
from .staging import BuildError, say, scripts_path

RUNTIME_IMAGE_LABEL = "io.modelkiln.runtime-image"  # on a builder: the runtime image to use
INPUT_FILES_LABEL = "io.openshift.s2i.assemble-input-files"
RUNTIME_USER_LABEL = "io.openshift.s2i.assemble-runtime-user"
SLIM_LABEL = "io.modelkiln.slim"  # "true" on a slim app image: no builder, no save-artifacts
RUNTIME_ID_LABEL = "io.modelkiln.runtime-image-id"


def runtime_image_name(options: Any, builder_labels: Dict[str, str]) -> str:
    """The runtime image of this build: --runtime-image, else the builder's label."""
    if options.runtime_image:
        return options.runtime_image
    named = builder_labels.get(RUNTIME_IMAGE_LABEL)
    if not named:
        raise BuildError("the builder image %s names no runtime image (label %s): pass "
                         "--runtime-image IMAGE, or build without --slim"
                         % (options.builder, RUNTIME_IMAGE_LABEL))
    return named


def artifact_mappings(label: str) -> List[Tuple[str, str]]:
    """s2i's mapping syntax, ``/src[:dest];/src2``: (absolute source in the build container,
    folder relative to the runtime image's working folder)."""
    mappings = []
    for part in (label or "").split(";"):
        part = part.strip()
        if not part:
            continue
        source, _, destination = part.partition(":")
        destination = destination.strip() or "."
        if not source.startswith("/") or destination.startswith(("/", "..")):
            raise BuildError("runtime artifact %r: the source must be an absolute path and "
                             "the destination a folder inside the working folder" % part)
        mappings.append((source.rstrip("/") or "/", destination))
    return mappings


def check_options(options: Any) -> None:
    if options.slim and options.incremental:
        raise BuildError("--incremental cannot be combined with --slim: a slim image keeps no "
                         "build artifacts to reuse (s2i refuses an incremental build with "
                         "--runtime-image as well); drop one of the two")


def find_runtime(client: Any, runtime_name: str) -> Any:
    """The runtime image, looked up before anything is built."""
    try:
        return client.images.get(runtime_name)
    except Exception as exc:  # docker.errors.ImageNotFound
        raise BuildError("runtime image %s is not in the local engine: build it (make "
                         "image-py311-runtime) or pull it first" % runtime_name) from exc


def assemble_runtime(client: Any, built: Any, options: Any, runtime_name: str,
                     env: Dict[str, str], labels: Dict[str, str],
                     weight_files: Optional["weights.Weights"] = None) -> Any:
    """The slim app image, from the stopped build container ``built``: its id. With
    ``weight_files``, the runtime image gets the weights in a layer of their own too, and
    they are left out of the copy."""
    runtime = find_runtime(client, runtime_name)
    start, leave_out = runtime, set()  # type: Any, set
    if weight_files is not None and weight_files.files:
        start = weight_files.layer_image(client, runtime)
        leave_out = set(weight_files.files)
    config = runtime.attrs.get("Config") or {}
    runtime_labels = dict(config.get("Labels") or {})
    scripts = scripts_path(runtime_labels)
    mappings = artifact_mappings(runtime_labels.get(INPUT_FILES_LABEL, ""))
    if not mappings:
        raise BuildError("runtime image %s names no artifacts (label %s)"
                         % (runtime_name, INPUT_FILES_LABEL))
    workdir = (config.get("WorkingDir") or "/").rstrip("/") or ""
    user = runtime_labels.get(RUNTIME_USER_LABEL) or config.get("User") or ""
    say("assembling on the runtime image %s (user %s)" % (runtime_name, user or "root"))
    container = client.containers.create(start.id, command=[scripts + "/assemble-runtime"],
                                         user=user, environment=env,
                                         network_mode=options.network)
    try:
        for source, destination in mappings:
            target = workdir if destination == "." else "%s/%s" % (workdir, destination)
            say("copying %s from the build into %s" % (source, target or "/"))
            if destination != ".":
                _make_folders(container, workdir, destination)
            stream, _ = built.get_archive(source)
            top = source.rstrip("/").rsplit("/", 1)[-1] + "/"
            drop = {top + name for name in _below(source, weights.APP_DIR, leave_out)}
            if drop:
                stream = Filtered(stream, drop)
            if not container.put_archive(target or "/", stream):
                raise BuildError("could not copy %s into the runtime container" % source)
            if drop:
                stream.check()
        tail = stream_output(container, quiet=options.quiet)
        status = container.wait().get("StatusCode", 1)
        if status != 0:
            raise BuildError("assemble-runtime failed (exit code %d); its last lines:\n%s"
                             % (status, "\n".join(tail)))
        final_labels = dict(runtime_labels)
        final_labels.update(labels)
        final_labels.update({SLIM_LABEL: "true", RUNTIME_ID_LABEL: runtime.id,
                             "io.openshift.s2i.build.runtime-image": runtime_name})
        return commit_app(container, options.tag, config, final_labels, env, scripts)
    finally:
        container.remove(force=True)


def _make_folders(container: Any, workdir: str, relative: str) -> None:
    """The folder ``relative`` below the working folder, in the created container."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        parts = [part for part in relative.split("/") if part not in ("", ".")]
        for depth in range(1, len(parts) + 1):
            info = tarfile.TarInfo("/".join(parts[:depth]))
            info.type, info.mode = tarfile.DIRTYPE, 0o775
            tar.addfile(info)
    container.put_archive(workdir or "/", buffer.getvalue())


def _below(source: str, app_dir: str, files: set) -> List[str]:
    """The weight files as paths inside the artifact ``source`` (empty when it does not
    hold the app folder)."""
    source = source.rstrip("/")
    if not files or not (app_dir + "/").startswith(source + "/"):
        return []
    inner = app_dir[len(source):].strip("/")
    return ["%s/%s" % (inner, f) if inner else f for f in sorted(files)]


class Filtered(object):
    """An archive stream (the engine's chunks) without the members named in ``drop``, read
    as a file while a thread copies the rest through."""

    def __init__(self, chunks: Iterator[bytes], drop: set) -> None:
        read_end, write_end = os.pipe()
        self.reader = os.fdopen(read_end, "rb")
        self.error = None  # type: Optional[BaseException]
        self.thread = threading.Thread(target=self._copy, args=(chunks, drop, write_end),
                                       daemon=True)
        self.thread.start()

    def _copy(self, chunks: Iterator[bytes], drop: set, write_end: int) -> None:
        with os.fdopen(write_end, "wb") as out:
            try:
                source = _ChunkReader(chunks)
                with tarfile.open(fileobj=source, mode="r|") as tin, \
                        tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tout:
                    for member in tin:
                        if member.name in drop:
                            continue
                        tout.addfile(member, tin.extractfile(member) if member.isfile()
                                     else None)
            except BaseException as exc:  # (reported by check(), after the upload)
                self.error = exc

    def read(self, size: int = -1) -> bytes:
        return self.reader.read(size)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            block = self.reader.read(1 << 16)
            if not block:
                return
            yield block

    def check(self) -> None:
        self.thread.join()
        self.reader.close()
        if self.error is not None:
            raise BuildError("copying the app without its weights failed: %s" % self.error)


class _ChunkReader(object):
    """A file's read() over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = iter(chunks)
        self.buffer = b""
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) - self.offset < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer = self.buffer[self.offset:] + chunk
            self.offset = 0
        end = len(self.buffer) if size < 0 else min(len(self.buffer), self.offset + size)
        out = self.buffer[self.offset:end]
        self.offset = end
        return out
