"""What a build is given, made ready for the engine: its options, the files injected into
assemble (read-only copies, CA bundle and pip.conf as secrets) and the labels of the image.
Nothing here talks to the engine (unit-tested without Docker); ``build`` and ``dockerfile``
both use it."""

import os
import shutil
import subprocess
from typing import Dict, List, Optional, Tuple

from . import hostconfig
from .errors import CliError
from .source import Source

SECRETS_DIR = "/run/modelkiln"


class BuildError(CliError):
    """The build failed; the message says why and what to do."""


class BuildOptions(object):
    def __init__(self, source: str, builder: str, tag: str, ref: Optional[str] = None,
                 context_dir: str = "", copy: bool = False, env: Optional[List[str]] = None,
                 env_files: Optional[List[str]] = None, inject: Optional[List[str]] = None,
                 incremental: bool = False, network: Optional[str] = None,
                 as_dockerfile: Optional[str] = None, ca_bundle: Optional[str] = None,
                 pip_conf: Optional[str] = None, quiet: bool = False,
                 host_ca: bool = True, slim: bool = False,
                 runtime_image: Optional[str] = None) -> None:
        self.source = source
        self.builder = builder
        self.tag = tag
        self.ref = ref
        self.context_dir = context_dir
        self.copy = copy
        self.env = env or []
        self.env_files = env_files or []
        self.inject = inject or []
        self.incremental = incremental
        self.network = network
        self.as_dockerfile = as_dockerfile
        self.ca_bundle = ca_bundle
        self.pip_conf = pip_conf
        self.quiet = quiet
        self.host_ca = host_ca  # without --ca-bundle, trust what this machine trusts
        # --slim: the app runs on the builder's runtime image (its label names it), or on
        # --runtime-image; None: on the builder image, as always
        self.slim = slim or bool(runtime_image)
        self.runtime_image = runtime_image


SCRIPTS_LABEL = "io.openshift.s2i.scripts-url"


def scripts_path(labels: Dict[str, str]) -> str:
    url = labels.get(SCRIPTS_LABEL) or labels.get("io.s2i.scripts-url") or ""
    if not url.startswith("image://"):
        raise BuildError("builder image has no %s=image:///... label: is it an s2i builder?"
                         % SCRIPTS_LABEL)
    return url[len("image://"):].rstrip("/")


def split_tag(name: str) -> Tuple[str, str]:
    """(repository, tag) of an image name; the tag is "latest" when it has none."""
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
        return repository, tag
    return name, "latest"


def say(message: str) -> None:
    print("---> %s" % message, flush=True)


def parse_injections(options: BuildOptions) -> List[Tuple[str, str]]:
    """(host path, path in the build container) for --inject, --ca-bundle and --pip-conf."""
    pairs = []
    for spec in options.inject:
        src, sep, dst = spec.rpartition(":")
        if not sep or not src or not dst.startswith("/"):
            raise BuildError("--inject %r must be SRC:DST with an absolute DST" % spec)
        pairs.append((src, dst))
    ca_bundle = options.ca_bundle
    given = any(dst == SECRETS_DIR + "/ca-bundle.crt" for _, dst in pairs)  # by --inject
    if not ca_bundle and options.host_ca and not given:
        found = hostconfig.ca_bundle()
        if found:
            ca_bundle = found[0]
            say("pip trusts this machine's CA bundle %s (%s) during assemble; it is not stored "
                "in the image (--no-host-ca: do not)" % found)
    if ca_bundle:
        pairs.append((ca_bundle, SECRETS_DIR + "/ca-bundle.crt"))
    if options.pip_conf:
        pairs.append((options.pip_conf, SECRETS_DIR + "/pip.conf"))
    checked = []
    for src, dst in pairs:
        if not os.path.exists(src):
            raise BuildError("injected file %s does not exist" % src)
        checked.append((os.path.abspath(src), dst))
    return checked


def copy_readable(src: str, copy: str) -> None:
    """Copy a file or folder so that any user can read it (``--as-dockerfile``'s context: the
    engine reads it, and it holds no secret)."""
    os.makedirs(os.path.dirname(copy), exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, copy)
        for base, dirs, files in os.walk(copy):
            os.chmod(base, 0o755)
            for name in files:
                os.chmod(os.path.join(base, name), 0o644)
    else:
        shutil.copyfile(src, copy)
        os.chmod(copy, 0o644)


def _paths(root: str) -> List[Tuple[str, bool]]:
    """(path, is a folder) of ``root`` and everything below it."""
    if not os.path.isdir(root):
        return [(root, False)]
    found = [(root, True)]
    for base, dirs, files in os.walk(root):
        found.extend((os.path.join(base, d), True) for d in dirs)
        found.extend((os.path.join(base, f), False) for f in files)
    return found


def readable_by(root: str, uid: Optional[int]) -> str:
    """Let the builder's user (``uid``) read ``root`` and nobody else on this machine: owned
    by that UID, modes 0500/0400, when this process may give files away (root); else a POSIX
    ACL for it (``setfacl``), the owner keeping its own rights; else, as the last resort,
    readable by everyone. Returns how ("owner", "acl" or "everyone")."""
    paths = _paths(root)
    if uid is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
        for path, folder in paths:
            os.chown(path, uid, -1)
            os.chmod(path, 0o500 if folder else 0o400)
        return "owner"
    setfacl = shutil.which("setfacl")
    if uid is not None and setfacl:
        for path, folder in paths:
            os.chmod(path, 0o700 if folder else 0o600)
        done = subprocess.run([setfacl, "-R", "-m", "u:%d:rX" % uid, "--", root],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if done.returncode == 0:
            return "acl"
    for path, folder in paths:
        os.chmod(path, 0o755 if folder else 0o644)
    return "everyone"


def stage_injections(injections: List[Tuple[str, str]], workdir: str,
                     uid: Optional[int] = None) -> List[Tuple[str, str]]:
    """Copies of the injected files, as (copy, mount target) pairs, readable by the builder's
    user ``uid`` only (``readable_by``); they are bind-mounted read-only (a bind mount's own
    modes are what the container sees: the build's private folder around them stays 0700).
    Files bound for /run/modelkiln share one folder mount there: a file mount leaves a 0-byte
    stub of itself in the committed image, a folder the builder image already has leaves
    nothing."""
    staged = []
    secrets = os.path.join(workdir, "secrets")
    for index, (src, dst) in enumerate(injections):
        if os.path.dirname(dst.rstrip("/")) == SECRETS_DIR:
            copy = os.path.join(secrets, os.path.basename(dst.rstrip("/")))
            os.makedirs(secrets, mode=0o700, exist_ok=True)
        else:
            copy = os.path.join(workdir, "inject", str(index))
            staged.append((copy, dst))
        os.makedirs(os.path.dirname(copy), mode=0o700, exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, copy)
        else:
            shutil.copyfile(src, copy)
    if os.path.isdir(secrets):
        staged.append((secrets, SECRETS_DIR))
    how = set(readable_by(copy, uid) for copy, _ in staged)
    if "everyone" in how:
        say("WARNING: the injected files are readable by every user of this machine while "
            "the build runs (this process cannot give them to the builder's user %s: run as "
            "root, or install setfacl)" % ("UID %d" % uid if uid is not None else "(unknown)"))
    os.chmod(workdir, 0o700)
    return staged


def build_labels(options: BuildOptions, source: Source) -> Dict[str, str]:
    labels = {
        "io.openshift.s2i.build.image": options.builder,
        "io.openshift.s2i.build.source-location": source.location,
        # the app image's own name, not the builder's title and tags it would inherit
        "io.k8s.display-name": options.tag,
        "org.opencontainers.image.title": options.tag,
        "io.k8s.description": "A model served by modelkiln, built from %s with %s"
                              % (source.location, options.builder),
        "io.openshift.tags": "modelkiln,model",
    }
    if source.context_dir:
        labels["io.openshift.s2i.build.source-context-dir"] = source.context_dir
    for key in ("id", "author", "date", "message", "ref"):
        if source.commit.get(key):
            labels["io.openshift.s2i.build.commit.%s" % key] = source.commit[key]
    return labels
