"""A local conda channel for the conda image tests, built by the tests themselves so that no
outside channel is needed. Its packages are tiny but real conda packages (``.tar.bz2`` with
``info/index.json``, ``info/paths.json`` and ``info/files``), indexed with py-rattler:

- ``kiln-data 1.0.0`` and ``2.0.0`` (noarch): ``share/kiln/values.json``;
- ``kiln-tool 1.0.0`` (noarch, depends ``kiln-data >=1``): ``bin/kiln-tool``, a POSIX sh tool;
- ``libkiln 1.0.0`` (linux-64): ``lib/libkiln.so``, compiled here with the host's C compiler;
- ``python`` 3.9.2 and 3.11.2 (linux-64) and ``pip`` (noarch: python), real ones built by
  conda_python.py (compiled once with py-rattler-build, then taken from a cache).

The archives are reproducible (fixed timestamps and owners; python is copied from
conda_python's cache), so building the channel twice gives the same bytes and the same sha256
in the repodata.

The test apps' environment.yml name the channel ``file:///kiln-channel``: the tests inject
the directory returned by :func:`build_channel` there (``modelkiln build --inject
<dir>:/kiln-channel``).
"""

import asyncio
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

CHANNEL_MOUNT = "/kiln-channel"
TIMESTAMP_MS = 1700000000000  # fixed: reproducible archives and repodata

VALUES = {
    "1.0.0": {"scale": 2.5, "offsets": [1, 2, 3], "label": "kiln-data one"},
    "2.0.0": {"scale": 9.0, "offsets": [7, 8, 9], "label": "kiln-data two"},
}

KILN_TOOL = b"""#!/bin/sh
# kiln-tool N: prints the square of the integer N (a command-line tool from a conda package)
set -e
n="${1:-0}"
echo "kiln-tool: $n squared is $((n * n))"
"""

LIBKILN_C = b"""
double kiln_scale(double x) { return x * 3.5; }
const char *kiln_version(void) { return "libkiln 1.0.0"; }
"""


def _tar_add(tar, path, data, mode=0o644):
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = mode
    info.mtime = TIMESTAMP_MS // 1000
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def build_package(channel, name, version, files, depends=(), subdir="noarch", build="0"):
    """Write ``<channel>/<subdir>/<name>-<version>-<build>.tar.bz2``.

    ``files`` maps a path inside the prefix to ``(bytes, mode)``. Returns the archive path.
    """
    folder = os.path.join(channel, subdir)
    os.makedirs(folder, exist_ok=True)
    index = {
        "name": name,
        "version": version,
        "build": build,
        "build_number": 0,
        "depends": list(depends),
        "subdir": subdir,
        "timestamp": TIMESTAMP_MS,
        "license": "Apache-2.0",
    }
    if subdir == "noarch":
        index["noarch"] = "generic"
    else:
        index["platform"], index["arch"] = "linux", "x86_64"
    paths = {
        "paths": [
            {"_path": path, "path_type": "hardlink",
             "sha256": hashlib.sha256(data).hexdigest(), "size_in_bytes": len(data)}
            for path, (data, _mode) in sorted(files.items())
        ],
        "paths_version": 1,
    }
    out = os.path.join(folder, "%s-%s-%s.tar.bz2" % (name, version, build))
    with tarfile.open(out, "w:bz2") as tar:
        for path, (data, mode) in sorted(files.items()):
            _tar_add(tar, path, data, mode)
        _tar_add(tar, "info/index.json", json.dumps(index, sort_keys=True).encode())
        _tar_add(tar, "info/paths.json", json.dumps(paths, sort_keys=True).encode())
        _tar_add(tar, "info/files", "\n".join(sorted(files)).encode() + b"\n")
    return out


def compile_libkiln():
    """lib/libkiln.so built from LIBKILN_C with the host's C compiler."""
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not compiler:
        raise RuntimeError("the conda image tests need a C compiler (gcc) to build libkiln.so")
    work = tempfile.mkdtemp(prefix="libkiln-")
    try:
        source = os.path.join(work, "kiln.c")
        target = os.path.join(work, "libkiln.so")
        with open(source, "wb") as handle:
            handle.write(LIBKILN_C)
        subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-Wl,-soname,libkiln.so",
                        "-o", target, source], check=True)
        with open(target, "rb") as handle:
            return handle.read()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_channel(target_dir, pythons=("3.9", "3.11")):
    """Build and index the test channel in ``<target_dir>/channel``, with the python versions
    ``pythons`` (none if empty) and pip; returns that path."""
    from rattler import index  # py-rattler (test extra)

    channel = os.path.join(str(target_dir), "channel")
    for subdir in ("noarch", "linux-64"):
        os.makedirs(os.path.join(channel, subdir), exist_ok=True)
    for version, values in sorted(VALUES.items()):
        data = json.dumps(dict(values, version=version), sort_keys=True).encode()
        build_package(channel, "kiln-data", version, {"share/kiln/values.json": (data, 0o644)})
    build_package(channel, "kiln-tool", "1.0.0", {"bin/kiln-tool": (KILN_TOOL, 0o755)},
                  depends=["kiln-data >=1"])
    build_package(channel, "libkiln", "1.0.0", {"lib/libkiln.so": (compile_libkiln(), 0o755)},
                  subdir="linux-64")
    if pythons:
        from .conda_python import build_python_packages

        build_python_packages(channel, pythons)
    asyncio.run(index.index_fs(channel, force=True))
    return channel


if __name__ == "__main__":
    import sys

    print(build_channel(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()))
