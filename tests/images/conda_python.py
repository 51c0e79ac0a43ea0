"""Real conda ``python`` and ``pip`` packages for the local test channel, built here because
no conda channel is reachable from this machine.

- ``python`` 3.9.2 and 3.11.2 (linux-64) are compiled with py-rattler-build from the upstream
  tarballs of Debian's source packages ``python3.9`` (bullseye) and ``python3.11`` (bookworm),
  without Debian's patches. The recipe asks no channel for anything: it builds with the host's
  gcc and -dev libraries, so the interpreter links against Debian 12's system libraries (libssl,
  libffi, libsqlite3, ...). The builder image is Debian 12 based, so this is acceptable for a
  test stand-in; it is not a portable conda python (and modules built against host libraries
  that the builder image lacks, such as _tkinter and _gdbm, do not import there).
- ``pip`` (noarch: python) is packed by hand from the pip wheel, one old and one recent release,
  so the solver (which adds pip to python when asked to) picks the newest that fits.

Built python packages are cached under ``$MODELKILN_CACHE`` (default
``${XDG_CACHE_HOME:-~/.cache}/modelkiln``) in ``conda-python/``, keyed by the source tarball,
the recipe and the py-rattler-build version. ``python -m tests.images.conda_python DIR``
builds and indexes such a channel in DIR.
"""

import configparser
import email
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

from .conda_channel import TIMESTAMP_MS, _tar_add

SOURCES = {"3.9": ("python3.9", "bullseye"), "3.11": ("python3.11", "bookworm")}
PIPS = ("21.3.1", "25.1.1")  # the newest must support every python in SOURCES
DEV_PACKAGES = ["gcc", "make", "libffi-dev", "zlib1g-dev", "libbz2-dev", "liblzma-dev",
                "libsqlite3-dev", "libreadline-dev", "libncursesw5-dev", "libgdbm-dev",
                "uuid-dev", "libexpat1-dev", "libssl-dev"]

RECIPE = """\
package:
  name: python
  version: "@VERSION@"
source:
  path: @SOURCE@
build:
  number: 0
  script: build.sh
about:
  license: PSF-2.0
  summary: CPython built with the host's compiler and Debian 12 system libraries (test only)
"""

# Output goes to a log file, not to rattler-build's console. No pip (it is its own package),
# no test suite and no bytecode: they would only make the package several times larger.
BUILD_SH = """\
exec >"$RECIPE_DIR/build.log" 2>&1
set -eux
./configure --prefix="$PREFIX" --enable-shared --with-ensurepip=no
make -j"$CPU_COUNT"
make install
v=$(echo "$PKG_VERSION" | cut -d. -f1,2)
cd "$PREFIX"
ln -sf "python$v" bin/python
rm -rf "lib/python$v/test" "lib/python$v"/*/test "lib/python$v"/*/tests \\
  "lib/python$v/idlelib/idle_test" "lib/python$v"/config-*/*.a share/man
find . -name __pycache__ -prune -exec rm -rf {} +
"""


def cache_root():
    base = os.environ.get("MODELKILN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "modelkiln")
    return os.path.join(base, "conda-python")


def _step(message, started=None):
    suffix = " (%.1f s)" % (time.time() - started) if started is not None else ""
    print("---> conda-python: %s%s" % (message, suffix), flush=True)


def ensure_dev_packages():
    """apt-get install the compiler and -dev libraries the interpreter is built against."""
    missing = [p for p in DEV_PACKAGES if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL).stdout != b"install ok installed"]
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError("building python needs these Debian packages: " + " ".join(missing))
    _step("installing %s" % " ".join(missing))
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-qq", "-y"]
    quiet = dict(stdout=subprocess.DEVNULL, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    install = apt + ["install", "--no-install-recommends"] + missing
    if subprocess.run(install, **quiet).returncode:
        subprocess.run(apt + ["update"], check=True, **quiet)  # a new machine may have no lists
        subprocess.run(install, check=True, **quiet)


def fetch_source(root, version):
    """The upstream tarball of Debian's ``pythonX.Y`` source package (downloaded once)."""
    package, release = SOURCES[version]
    folder = os.path.join(root, "src")
    found = sorted(glob.glob(os.path.join(folder, "%s_*.orig.tar.*" % package)))
    if found:
        return found[-1]
    from modelkiln_cli.hostconfig import apt_mirror

    mirror = apt_mirror()
    if not mirror:
        raise RuntimeError("no Debian mirror in apt's sources: cannot fetch %s" % package)
    started = time.time()
    apt_dir = os.path.join(root, "apt")
    os.makedirs(os.path.join(apt_dir, "lists", "partial"), exist_ok=True)
    os.makedirs(folder, exist_ok=True)
    sources = os.path.join(apt_dir, "sources.list")
    with open(sources, "w") as handle:
        handle.write("".join("deb-src %s %s main\n" % (mirror, r) for _, r in SOURCES.values()))
    # A private source list and state, so the host's apt setup is neither used nor touched.
    apt = ["apt-get", "-q", "-o", "Dir::Etc::SourceList=" + sources,
           "-o", "Dir::Etc::SourceParts=/dev/null", "-o", "Dir::State::Lists=" + apt_dir + "/lists",
           "-o", "DPkg::Lock::Timeout=600", "-o", "APT::Sandbox::User=root"]
    subprocess.run(apt + ["update"], check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(dir=folder) as work:  # no half-downloaded tarball kept
        subprocess.run(apt + ["source", "--download-only", "%s/%s" % (package, release)],
                       cwd=work, check=True, stdout=subprocess.DEVNULL)
        tarball = glob.glob(os.path.join(work, "%s_*.orig.tar.*" % package))[0]
        target = os.path.join(folder, os.path.basename(tarball))
        os.rename(tarball, target)
    shutil.rmtree(os.path.join(apt_dir, "lists"), ignore_errors=True)  # 40 MB, used once
    _step("fetched %s" % os.path.basename(target), started)
    return target


def build_python(root, version):
    """The path of the cached ``python-X.Y.Z-*.conda`` for ``version`` (built if missing)."""
    import rattler_build

    tarball = fetch_source(root, version)
    full = os.path.basename(tarball).split("_")[1].split(".orig")[0]
    with open(tarball, "rb") as handle:
        parts = [hashlib.sha256(handle.read()).hexdigest(), RECIPE, BUILD_SH,
                 rattler_build.rattler_build_version()]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    done = os.path.join(root, "python-%s-%s" % (full, key[:16]))
    found = glob.glob(os.path.join(done, "python-*.conda"))
    if found:
        return found[0]
    ensure_dev_packages()
    log = os.path.join(root, "python-%s.log" % full)
    _step("building python %s with py-rattler-build (log: %s)" % (full, log))
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="build-%s-" % full, dir=root) as work:
        recipe_dir = os.path.join(work, "recipe")
        os.makedirs(recipe_dir)
        with open(os.path.join(recipe_dir, "build.sh"), "w") as handle:
            handle.write(BUILD_SH)
        open(log, "w").close()
        os.symlink(log, os.path.join(recipe_dir, "build.log"))  # the log outlives the work dir
        recipe = rattler_build.Stage0Recipe.from_yaml(
            RECIPE.replace("@VERSION@", full).replace("@SOURCE@", tarball), recipe_dir=recipe_dir)
        try:
            # channels=[]: the recipe has no requirements, and no channel is reachable anyway
            recipe.run_build(output_dir=os.path.join(work, "out"), channels=[],
                             no_include_recipe=True)
        except Exception as exc:
            with open(log, errors="replace") as handle:
                tail = "".join(handle.readlines()[-40:])
            raise RuntimeError("building python %s failed: %s\n(%s ends with)\n%s"
                               % (full, exc, log, tail)) from exc
        built = glob.glob(os.path.join(work, "out", "linux-64", "python-*.conda"))[0]
        os.chmod(built, 0o644)  # rattler-build writes 0600; the channel is read by other users
        os.makedirs(os.path.join(work, "done"))
        shutil.move(built, os.path.join(work, "done"))
        for stale in glob.glob(os.path.join(root, "python-%s-*" % full)):
            shutil.rmtree(stale, ignore_errors=True)  # builds of an older recipe or source
        os.rename(os.path.join(work, "done"), done)
    package = glob.glob(os.path.join(done, "python-*.conda"))[0]
    _step("built %s, %.1f MiB" % (os.path.basename(package),
                                   os.path.getsize(package) / 2 ** 20), started)
    return package


def build_pip(root, channel, version):
    """Write ``<channel>/noarch/pip-<version>-0.tar.bz2`` (noarch: python) from the wheel."""
    folder = os.path.join(root, "wheels")
    wheel = os.path.join(folder, "pip-%s-py3-none-any.whl" % version)
    if not os.path.exists(wheel):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary", ":all:", "-d", folder, "pip==" + version], check=True)
    with zipfile.ZipFile(wheel) as archive:
        files = {"site-packages/" + name: archive.read(name) for name in archive.namelist()}
    info = "site-packages/pip-%s.dist-info/" % version
    requires = email.message_from_bytes(files[info + "METADATA"])["Requires-Python"]
    entry_points = configparser.ConfigParser(delimiters=("=",))
    entry_points.read_string(files[info + "entry_points.txt"].decode())
    # not the wheel's pip3.X: it names the python the wheel was built with
    scripts = ["%s = %s" % (name, target)
               for name, target in entry_points["console_scripts"].items() if "." not in name]
    index = {"name": "pip", "version": version, "build": "0", "build_number": 0,
             "depends": ["python " + requires], "subdir": "noarch",
             "noarch": "python", "timestamp": TIMESTAMP_MS, "license": "MIT"}
    link = {"noarch": {"type": "python", "entry_points": scripts}, "package_metadata_version": 1}
    paths = {"paths": [{"_path": path, "path_type": "hardlink", "size_in_bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()}
                       for path, data in sorted(files.items())], "paths_version": 1}
    os.makedirs(os.path.join(channel, "noarch"), exist_ok=True)
    out = os.path.join(channel, "noarch", "pip-%s-0.tar.bz2" % version)
    with tarfile.open(out, "w:bz2") as tar:
        for path, data in sorted(files.items()):
            _tar_add(tar, path, data)
        for name, meta in (("index", index), ("link", link), ("paths", paths)):
            _tar_add(tar, "info/%s.json" % name, json.dumps(meta, sort_keys=True).encode())
        _tar_add(tar, "info/files", "\n".join(sorted(files)).encode() + b"\n")
    return out


def build_python_packages(channel, versions=("3.9", "3.11"), cache_dir=None):
    """Write python (linux-64) and pip (noarch) packages into ``channel``; returns their paths.

    ``cache_dir`` replaces the cache folder (default :func:`cache_root`). The caller indexes
    the channel.
    """
    root = str(cache_dir or cache_root())
    os.makedirs(root, exist_ok=True)
    started = time.time()
    written = []
    for version in versions:
        package = build_python(root, version)
        os.makedirs(os.path.join(channel, "linux-64"), exist_ok=True)
        written.append(shutil.copy(package, os.path.join(channel, "linux-64")))
    written += [build_pip(root, channel, version) for version in PIPS]
    for path in written:  # the tests' container reads the channel as another user
        os.chmod(path, 0o644)
        os.chmod(os.path.dirname(path), 0o755)
    _step("python %s and pip %s in %s" % (", ".join(versions), ", ".join(PIPS), channel), started)
    return written


if __name__ == "__main__":
    import asyncio

    from rattler import index

    target = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
    build_python_packages(target)
    asyncio.run(index.index_fs(target, force=True))
    print(target)
