#!/usr/bin/env bash
# Build the base of a slim runtime image (Dockerfile.py311-runtime) from a builder's base
# image: the same files, so the same interpreter at the same path, less what only building or
# a person at a shell needs. The builder's app virtualenv points at that interpreter, so an
# app built on the builder runs on this base unchanged.
# Usage: standins/runtime-base.sh BASE_IMAGE IMAGE_TAG
# Env: DOCKER (client, default /usr/bin/docker).
# Removed: pip, setuptools and wheel (system and /usr/local), the wheels `python3 -m venv`
# installs, ensurepip, lib2to3, idlelib, pydoc_data, tkinter, turtledemo and the test suite;
# apt (no package installs at run time: extend the builder image instead), perl, gpgv and the
# TLS library only apt used, docs, man pages, info pages and message catalogues, and glibc's
# iconv modules (Python's codecs are its own).
# The image carries the label modelkiln.standin.key: the sha256 of this script and the base
# image's id; an image with the same key is kept, any other one is rebuilt.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BASE_IMAGE IMAGE_TAG" >&2; exit 2; }
BASE=$1
TAG=$2
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_API_VERSION=${DOCKER_API_VERSION:-1.41}
die() { echo "ERROR: $*" >&2; exit 1; }

BASE_ID=$("$DOCKER" image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) \
  || die "no image $BASE: make base-py311 first"
KEY=$({ cat "${BASH_SOURCE[0]}"; echo "$BASE_ID"; } | sha256sum | cut -c1-64)
OLD=$("$DOCKER" image inspect -f '{{index .Config.Labels "modelkiln.standin.key"}}|{{.Id}}' \
  "$TAG" 2>/dev/null || true)
if [ "${OLD%%|*}" = "$KEY" ]; then echo "---> $TAG is up to date"; exit 0; fi

ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/modelkiln-runtime-base.XXXXXX")
container=""
cleanup() {
  rm -rf "$ROOTFS"
  if [ -n "$container" ]; then "$DOCKER" rm -f "$container" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

echo "---> the files of $BASE"
container=$("$DOCKER" create "$BASE" true)
"$DOCKER" export "$container" | tar -C "$ROOTFS" --numeric-owner -x
ENV_LINES=$("$DOCKER" image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$BASE")

echo "---> removing what only building needs"
before=$(du -sm "$ROOTFS" | cut -f1)
(
  cd "$ROOTFS"
  rm -rf usr/share/doc/* usr/share/man/* usr/share/info/* usr/share/lintian \
    usr/share/python-wheels usr/lib/x86_64-linux-gnu/gconv usr/lib/aarch64-linux-gnu/gconv \
    usr/bin/apt usr/bin/apt-* usr/lib/apt usr/share/bug/apt etc/apt var/lib/apt var/cache/apt \
    var/log/apt var/cache/debconf/*-old var/lib/dpkg/*-old
  find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  for lib in usr/lib/python3.* usr/local/lib/python3.*; do
    [ -d "$lib" ] || continue
    rm -rf "$lib"/ensurepip "$lib"/lib2to3 "$lib"/idlelib "$lib"/pydoc_data "$lib"/tkinter \
      "$lib"/turtledemo "$lib"/test "$lib"/unittest/test "$lib"/lib-dynload/_tkinter*
    for site in "$lib"/site-packages "$lib"/dist-packages; do
      [ -d "$site" ] || continue
      rm -rf "$site"/pip "$site"/pip-* "$site"/setuptools "$site"/setuptools-* \
        "$site"/wheel "$site"/wheel-* "$site"/pkg_resources "$site"/_distutils_hack \
        "$site"/distutils-precedence.pth
    done
  done
  rm -f usr/local/bin/pip usr/local/bin/pip3* usr/local/bin/wheel usr/local/bin/easy_install*
  # perl and what only apt used (the package signatures' gpgv and TLS stack): nothing left
  # links them (the ldd check below fails the build if something does)
  rm -rf usr/bin/perl usr/bin/perl5* usr/lib/*-linux-gnu/perl-base usr/lib/*-linux-gnu/perl \
    usr/share/perl usr/share/perl5 usr/bin/gpgv usr/lib/*-linux-gnu/libapt-* \
    usr/lib/*-linux-gnu/libgnutls* usr/lib/*-linux-gnu/libp11-kit* etc/perl
)
after=$(du -sm "$ROOTFS" | cut -f1)
echo "    ${before} MB -> ${after} MB"

changes=(-c "LABEL modelkiln.standin.key=$KEY" -c "LABEL modelkiln.runtime-base.of=$BASE"
  -c 'CMD ["python3"]')
while IFS= read -r line; do
  [ -n "$line" ] && changes+=(-c "ENV $line")
done <<<"$ENV_LINES"
echo "---> docker import $TAG"
id=$(tar -C "$ROOTFS" --numeric-owner -c . | "$DOCKER" import "${changes[@]}" -)
"$DOCKER" run --rm "$id" python3 -c "import ssl, json, sqlite3, zoneinfo, ctypes, encodings.idna" \
  || { "$DOCKER" rmi "$id" >/dev/null; die "the new image fails its import check"; }
# every program and library left must find the libraries it links
unlinked=$("$DOCKER" run --rm "$id" sh -c 'for f in /usr/bin/* /usr/sbin/* /usr/lib/*-linux-gnu/*.so* \
    /usr/lib/python3*/lib-dynload/*.so /usr/local/lib/python3*/lib-dynload/*.so; do
  [ -f "$f" ] || continue; ldd "$f" 2>/dev/null | grep -q "not found" && echo "$f"; done; true')
if [ -n "$unlinked" ]; then
  "$DOCKER" rmi "$id" >/dev/null
  die "removed libraries are still linked by: $unlinked"
fi
if "$DOCKER" run --rm "$id" python3 -c "import pip" >/dev/null 2>&1; then
  "$DOCKER" rmi "$id" >/dev/null
  die "pip is still importable in the new image"
fi
"$DOCKER" tag "$id" "$TAG"
if [ -n "${OLD#*|}" ] && [ "${OLD#*|}" != "$id" ]; then
  "$DOCKER" rmi "${OLD#*|}" >/dev/null 2>&1 || true
fi
