"""The last step of a slim build (``s2i/bin/assemble-runtime``, in the runtime image):
``python -m python_runtime.slim /opt/app-root``.

The app virtualenv was made on the builder, where ``python3 -m venv`` gave it pip and
setuptools. Here they go, unless the app asked for them: named in its requirements.txt, or
required by a package it installed. Then every requirement of every installed package (the
app's and the runtime's) must be installed here too: the builder has packages the runtime
image lacks (its conda installer), and pip on the builder took those as already there. A
missing one fails the build, naming it, rather than the first request at run time.
"""

import email.parser
import glob
import os
import re
import shutil
import sys
from typing import Dict, List, Optional, Set, Tuple

USAGE = """usage: python -m python_runtime.slim [--remove-only | --check-only] APP_ROOT
       python -m python_runtime.slim --place STAGED APP_ROOT
       python -m python_runtime.slim --own UID APP_ROOT

The last step of a slim app image (s2i/bin/assemble-runtime): APP_ROOT's virtualenv without
pip, setuptools and wheel unless the app asked for them, and every requirement of its packages
installed (--remove-only, --check-only: one of the two); --place moves a copied app into
APP_ROOT around what is there (weights); --own gives UID:0 everything, group rights equal to
the owner's, changing only what differs."""
BUILD_TOOLS = ("pip", "setuptools", "wheel")
RUNTIME_SITES = "/opt/modelkiln/lib/python*/site-packages"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class Dist(object):
    """An installed distribution: its name, requirements (names, with whether a marker
    limits them), and where its metadata lives."""

    def __init__(self, path: str) -> None:
        self.path = path
        with open(os.path.join(path, "METADATA"), encoding="utf-8", errors="replace") as handle:
            meta = email.parser.Parser().parse(handle, headersonly=True)
        self.name = canonical(meta.get("Name") or os.path.basename(path).split("-")[0])
        self.requires: List[Tuple[str, bool]] = []  # (name, whether a marker limits it)
        self.in_use: List[str] = []  # names it needs when installed without extras
        for line in meta.get_all("Requires-Dist") or []:
            spec, _, marker = line.partition(";")
            found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
            if found:
                name = canonical(found.group(1))
                self.requires.append((name, bool(marker.strip())))
                if "extra" not in marker:
                    self.in_use.append(name)

    def files(self, site: str) -> List[str]:
        """What the distribution installed (its RECORD), as paths under ``site``."""
        record = os.path.join(self.path, "RECORD")
        paths = [self.path]
        if os.path.isfile(record):
            with open(record, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    relative = line.split(",", 1)[0].strip()
                    if relative:
                        paths.append(os.path.normpath(os.path.join(site, relative)))
        return paths


def distributions(site: str) -> Dict[str, Dist]:
    found = {}  # type: Dict[str, Dist]
    for path in sorted(glob.glob(os.path.join(site, "*.dist-info"))):
        if os.path.isfile(os.path.join(path, "METADATA")):
            dist = Dist(path)
            found[dist.name] = dist
    return found


def requested(app_root: str) -> Set[str]:
    """The names the app's requirements.txt lists (what it asked for by name)."""
    names = set()  # type: Set[str]
    path = os.path.join(app_root, "src", "requirements.txt")
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
                if found and not line.lstrip().startswith("-"):
                    names.add(canonical(found.group(1)))
    return names


def app_site(app_root: str) -> Optional[str]:
    sites = glob.glob(os.path.join(app_root, "lib", "python*", "site-packages"))
    return sites[0] if sites else None


def remove_build_tools(site: str, app_root: str) -> List[str]:
    """pip, setuptools and wheel out of the app virtualenv unless the app asked for them;
    the names removed."""
    installed = distributions(site)
    needed = requested(app_root)
    for dist in installed.values():
        if dist.name not in BUILD_TOOLS:  # (setuptools' own extras name pip, and so on)
            needed.update(dist.in_use)
    removed = []
    for tool in BUILD_TOOLS:
        dist = installed.get(tool)
        if dist is None or tool in needed:
            continue
        for path in dist.files(site):
            if not path.startswith(site + os.sep) and not path.startswith(
                    os.path.join(app_root, "bin") + os.sep):
                continue  # (a RECORD entry outside the virtualenv: left alone)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                os.remove(path)
        for folder in (tool, "_distutils_hack", "pkg_resources") if tool == "setuptools" \
                else (tool,):
            shutil.rmtree(os.path.join(site, folder), ignore_errors=True)
        removed.append(tool)
    if "setuptools" in removed:
        pth = os.path.join(site, "distutils-precedence.pth")
        if os.path.exists(pth):
            os.remove(pth)
    for script in glob.glob(os.path.join(app_root, "bin", "pip*")) + glob.glob(
            os.path.join(app_root, "bin", "easy_install*")):
        if "pip" in removed or "easy_install" in script:
            os.remove(script)
    return removed


def missing_requirements(sites: List[str]) -> List[str]:
    """Requirements (without an environment marker) of installed packages that no site
    holds: "package needs name"."""
    installed = {}  # type: Dict[str, Dist]
    for site in sites:
        installed.update(distributions(site))
    missing = []
    for dist in sorted(installed.values(), key=lambda d: d.name):
        for name, marked in dist.requires:
            if not marked and name not in installed:
                missing.append("%s needs %s" % (dist.name, name))
    return missing


def place(staged: str, target: str) -> None:
    """Move ``staged``'s entries into ``target``, descending where both hold a folder (the
    weights a slim build put in a layer of their own stay; everything else is replaced)."""
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(staged):
        src, dst = os.path.join(staged, name), os.path.join(target, name)
        if (os.path.isdir(src) and not os.path.islink(src) and os.path.isdir(dst)
                and not os.path.islink(dst)):
            place(src, dst)
            continue
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        elif os.path.lexists(dst):
            os.remove(dst)
        os.rename(src, dst)
    os.rmdir(staged)


def own(root: str, uid: int, gid: int = 0) -> int:
    """Everything below ``root`` owned by ``uid``:``gid`` with the group's rights equal to
    the owner's (OpenShift's arbitrary UIDs), touching only what differs: a needless chown or
    chmod would copy a file of a lower layer (the weights) up into the new one. The number of
    paths changed."""
    changed = _own_one(root, uid, gid)
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            changed += _own_one(os.path.join(base, name), uid, gid)
    return changed


def _own_one(path: str, uid: int, gid: int) -> int:
    info = os.lstat(path)
    changed = 0
    if info.st_uid != uid or info.st_gid != gid:
        os.lchown(path, uid, gid)
        changed = 1
    if not os.path.islink(path):
        mode = info.st_mode & 0o7777
        wanted = (mode & ~0o070) | ((mode & 0o700) >> 3)
        if wanted != mode:
            os.chmod(path, wanted)
            changed = 1
    return changed


def main(argv: Optional[List[str]] = None) -> int:
    """``[--remove-only | --check-only] APP_ROOT``, ``--place STAGED APP_ROOT``
    (``place``) or ``--own UID APP_ROOT`` (``own``). A multi-stage build (``modelkiln build
    --slim --as-dockerfile``) removes in the build stage, so that nothing removed is in a
    layer, and checks in the runtime stage, against the runtime image's own packages."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if args[:1] == ["--place"] and len(args) == 3:  # assemble-runtime: the app into place
        place(args[1], args[2])
        return 0
    if args[:1] == ["--own"] and len(args) == 3:  # assemble-runtime: owner and group rights
        own(args[2], int(args[1]))
        return 0
    remove = check = True
    if args and args[0] in ("--remove-only", "--check-only"):
        remove, check = args[0] == "--remove-only", args[0] == "--check-only"
        args = args[1:]
    if len(args) != 1:
        print(USAGE, file=sys.stderr)
        return 2
    app_root = args[0]
    site = app_site(app_root)
    if site is None:
        print("ERROR: %s holds no virtualenv (lib/python*/site-packages): was it built on "
              "modelkiln/python311?" % app_root, file=sys.stderr)
        return 1
    if remove:
        removed = remove_build_tools(site, app_root)
        if removed:
            print("---> left out of the app virtualenv (the app did not ask for them): %s"
                  % ", ".join(removed))
    if check:
        missing = missing_requirements([site] + glob.glob(RUNTIME_SITES))
        if missing:
            print("ERROR: packages the app needs are not in this runtime image (the builder "
                  "has them, so pip did not install them): %s; add them to requirements.txt, "
                  "or build without --runtime-image / --slim" % "; ".join(missing),
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
