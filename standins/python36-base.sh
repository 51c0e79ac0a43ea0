#!/usr/bin/env bash
# Build a local stand-in for the public python:3.6-slim image (see standins/README.md).
# Usage: standins/python36-base.sh IMAGE_TAG
# Env: DOCKER (client, default /usr/bin/docker), VENDOR_DIR (default: shared/vendor beside the
#      checkout or beside one of its parents),
#      MODELKILN_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/modelkiln).
set -euo pipefail

# shellcheck source=standins/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
find_vendor() {  # shared/vendor beside the checkout, or beside one of its parents
  local dir=$REPO
  while [ "$dir" != / ]; do
    dir=$(dirname "$dir")
    if [ -f "$dir/shared/vendor/Python-3.6.13.tar.xz" ]; then echo "$dir/shared/vendor"; return; fi
  done
  echo "$REPO/../shared/vendor"
}
VENDOR_DIR=${VENDOR_DIR:-$(find_vendor)}
OWN=$CACHE/python36  # sources, wheels, .debs and logs of this script
JOBS=$(nproc)

PY_VERSION=3.6.13
PY_SHA256=f469fb960c1565ce94f42dd62b104a787231715857b021330abb4708de5956d0
SSL_VERSION=1.1.1w
SSL_DEB_VERSION=1.1.1w-0+deb11u1
SSL_SHA256=cf3098950cb4d853ad95c0841f1f9c6d3dc102dccfcacd521d93925208b76ac8
WHEELS=(pip==21.2.4 setuptools==57.5.0 wheel==0.37.1)
MODULES="ssl _hashlib ctypes _sqlite3 _lzma _bz2 zlib readline _decimal _curses _gdbm pyexpat _elementtree _json"
HOST_DEPS="build-essential libffi-dev zlib1g-dev libbz2-dev liblzma-dev libsqlite3-dev libreadline-dev
  libncursesw5-dev libgdbm-dev uuid-dev libexpat1-dev xz-utils debootstrap"
RUNTIME_DEBS="ca-certificates,netbase,tzdata,libffi8,zlib1g,libbz2-1.0,liblzma5,libsqlite3-0,libreadline8,\
libncursesw6,libgdbm6,libuuid1,libexpat1,libnsl2,passwd"

sha256() { sha256sum "$1" | cut -d' ' -f1; }
timed() {  # timed "what" command...: announce a step and report its duration
  local t=$SECONDS what=$1; echo "---> $what"; shift; "$@"; echo "     ($((SECONDS - t)) s: $what)"
}
quiet() {  # quiet LOG command...: run with output appended to LOG; show its tail on failure
  local log=$1; shift
  "$@" >>"$log" 2>&1 || { tail -n 40 "$log" >&2; die "'$*' failed; full log: $log"; }
}

# ---------------------------------------------------------------- checks and cache keys
PY_TARBALL=$VENDOR_DIR/Python-$PY_VERSION.tar.xz
[ -f "$PY_TARBALL" ] || die "$PY_TARBALL not found. The stand-in compiles CPython" \
  "$PY_VERSION from python.org's source tarball Python-$PY_VERSION.tar.xz (sha256 $PY_SHA256):" \
  "download it into a folder and set VENDOR_DIR to that folder (the script also looks in" \
  "shared/vendor beside the checkout or one of its parents). A machine whose engine can pull" \
  "python:3.6-slim needs no stand-in: 'make image-py36' uses that image instead."
[ "$(sha256 "$PY_TARBALL")" = "$PY_SHA256" ] || die "$PY_TARBALL has the wrong sha256" \
  "(want $PY_SHA256): restore it from shared/vendor"
"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers $DOCKER; start one with:" \
  "setsid nohup dockerd >/tmp/modelkiln-dockerd.log 2>&1 </dev/null &"

# The compile cache depends only on the sources and the build functions below; the image key
# also covers the rest of this script (assembly of the root filesystem).
fetch_openssl() {
  local apt=$OWN/apt src=$OWN/src dsc
  if [ ! -f "$src/openssl_$SSL_VERSION.orig.tar.gz" ]; then
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$src"
    echo "deb-src $MIRROR bullseye main" >"$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
    quiet "$LOGS/openssl-fetch.log" apt-get "${opts[@]}" update
    (cd "$src" && quiet "$LOGS/openssl-fetch.log" apt-get "${opts[@]}" source --download-only \
      "openssl=$SSL_DEB_VERSION")
  fi
  dsc=$src/openssl_$SSL_DEB_VERSION.dsc
  grep -q " $SSL_SHA256 [0-9]* openssl_$SSL_VERSION.orig.tar.gz" "$dsc" \
    || die "$dsc does not list the expected orig tarball; delete $src and retry"
  [ "$(sha256 "$src/openssl_$SSL_VERSION.orig.tar.gz")" = "$SSL_SHA256" ] \
    || die "openssl_$SSL_VERSION.orig.tar.gz has the wrong sha256; delete $src and retry"
}
build_openssl() {  # upstream 1.1.1w (no Debian patches) into $STAGE/usr/local
  tar -xzf "$OWN/src/openssl_$SSL_VERSION.orig.tar.gz" -C "$WORK"
  cd "$WORK/openssl-$SSL_VERSION"
  quiet "$LOGS/openssl.log" ./config --prefix=/usr/local --openssldir=/usr/local/ssl --libdir=lib \
    shared no-tests -Wl,-rpath,/usr/local/lib
  quiet "$LOGS/openssl.log" make -j"$JOBS"
  quiet "$LOGS/openssl.log" make DESTDIR="$STAGE" install_sw install_ssldirs
  rm -rf "$STAGE/usr/local/ssl/certs" "$STAGE/usr/local/ssl/cert.pem"
  ln -s /etc/ssl/certs "$STAGE/usr/local/ssl/certs"
  ln -s /etc/ssl/certs/ca-certificates.crt "$STAGE/usr/local/ssl/cert.pem"
}
build_python() {
  local log=$LOGS/python.log m failed=""
  tar -xJf "$PY_TARBALL" -C "$WORK"
  cd "$WORK/Python-$PY_VERSION"
  local -x LD_LIBRARY_PATH=$STAGE/usr/local/lib  # setup.py imports _ssl against the staged OpenSSL
  quiet "$log" ./configure --prefix=/usr/local --enable-shared --with-system-ffi \
    --with-system-expat --without-ensurepip CPPFLAGS="-I$STAGE/usr/local/include" \
    LDFLAGS="-L$STAGE/usr/local/lib -Wl,-rpath,/usr/local/lib"
  quiet "$log" make -j"$JOBS"
  # GCC 12 miscompiles _ctypes.c (misaligned vector store: import ctypes segfaults): rebuild
  # that module alone; setup.py takes CC from make's command line.
  rm -f build/lib.*/_ctypes.*.so
  quiet "$log" make sharedmods CC="$(sed -n 's/^CC=[[:space:]]*//p' Makefile) -fno-tree-vectorize"
  grep -q 'fno-tree-vectorize.*_ctypes/_ctypes\.c' "$log" || die "_ctypes was not rebuilt ($log)"
  for m in $MODULES; do
    LD_LIBRARY_PATH=$PWD:$LD_LIBRARY_PATH ./python -c "import $m" >>"$log" 2>&1 || failed="$failed $m"
  done
  grep -A3 'Failed to build these modules' "$log" >&2 || true
  [ -z "$failed" ] || die "modules missing from the build:$failed (see $log)"
  quiet "$log" make install DESTDIR="$STAGE"
  # Forget the staging paths configure recorded; then, as the official image does: no tests,
  # byte-code caches or static libraries, and stripped binaries.
  sed -i "s#-[IL]$STAGE/usr/local/[a-z]*##g" "$STAGE"/usr/local/lib/python3.6/_sysconfigdata_*.py \
    "$STAGE"/usr/local/lib/python3.6/config-3.6m-*/Makefile
  find "$STAGE/usr/local" -depth \( -type d \( -name test -o -name tests -o -name idle_test \
    -o -name __pycache__ \) -o -type f \( -name '*.py[co]' -o -name '*.a' \) \) -exec rm -rf {} +
  find "$STAGE/usr/local" -type f \( -name '*.so' -o -name '*.so.*' \) -exec strip --strip-unneeded {} +
  for m in "$STAGE"/usr/local/bin/*; do
    [ -L "$m" ] || [ "$(head -c4 "$m" | tail -c3)" != ELF ] || strip --strip-unneeded "$m"
  done
}
BUILD_KEY=$( { echo "$PY_SHA256 $SSL_SHA256 $SSL_DEB_VERSION $MODULES"
               declare -f fetch_openssl build_openssl build_python; } | sha256sum | cut -c1-64)
# Everything the image is made from: the compiled files, this script and the module it asks for
# the apt mirror (a broken or renamed module must change the key, or a cached image hides it).
KEY=$( { echo "$BUILD_KEY"; cat "${BASH_SOURCE[0]}" "$REPO/standins/common.sh" \
  "$REPO/modelkiln_cli/hostconfig.py"; } | sha256sum | cut -c1-64)
STAGED=$CACHE/python36-${BUILD_KEY:0:12}.tar.gz

up_to_date

# ---------------------------------------------------------------- cold path
START=$SECONDS
LOGS=$OWN/logs
mkdir -p "$CACHE" "$LOGS"
rm -f "$LOGS"/{apt,wheels,debootstrap,pip}.log
WORK=$(mktemp -d "${TMPDIR:-/tmp}/modelkiln-py36.XXXXXX")
STAGE=$WORK/stage
ROOTFS=$WORK/rootfs
cleanup() {  # never delete through a mount point left in the root filesystem
  local m busy=""
  for m in proc sys dev/pts; do
    if mountpoint -q "$ROOTFS/$m"; then umount "$ROOTFS/$m" || busy=1; fi
  done
  if [ -z "$busy" ]; then rm -rf "$WORK"; else echo "WARNING: left $WORK (mounts)" >&2; fi
}
trap cleanup EXIT
MIRROR=$(cd "$REPO" && python3 -m modelkiln_cli.hostconfig apt-mirror) \
  || die "no Debian mirror found: 'python3 -m modelkiln_cli.hostconfig apt-mirror' must print one"

host_deps() {
  local p missing=()
  for p in $HOST_DEPS; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "     installing ${missing[*]}"
  quiet "$LOGS/apt.log" apt-get -o DPkg::Lock::Timeout=600 update
  DEBIAN_FRONTEND=noninteractive quiet "$LOGS/apt.log" apt-get -o DPkg::Lock::Timeout=600 \
    install -y --no-install-recommends "${missing[@]}"
}
timed "host packages" host_deps

if [ -f "$STAGED" ]; then
  echo "---> using compiled Python from $STAGED"
else
  rm -f "$LOGS/openssl.log" "$LOGS/python.log"
  mkdir -p "$STAGE"
  timed "fetch OpenSSL $SSL_DEB_VERSION source (bullseye)" fetch_openssl
  timed "build OpenSSL $SSL_VERSION (log: $LOGS/openssl.log)" build_openssl
  timed "build CPython $PY_VERSION (log: $LOGS/python.log)" build_python
  cd "$WORK"
  timed "save $STAGED" tar -C "$STAGE" -czf "$STAGED.$$" usr
  mv "$STAGED.$$" "$STAGED"
fi

fetch_wheels() {
  local w
  for w in "${WHEELS[@]}"; do
    ls "$OWN/wheels/${w%%==*}-${w##*==}-"*.whl >/dev/null 2>&1 && continue
    quiet "$LOGS/wheels.log" python3 -m pip download --no-deps --only-binary=:all: \
      --python-version 3.6 -d "$OWN/wheels" "$w"
  done
}
timed "download ${WHEELS[*]}" fetch_wheels

# Debian 12 base like the official image's Debian base, with the libraries Python links to.
mkdir -p "$OWN/debs"
timed "debootstrap bookworm (minbase)" quiet "$LOGS/debootstrap.log" debootstrap \
  --variant=minbase --include="$RUNTIME_DEBS" --cache-dir="$OWN/debs" bookworm "$ROOTFS" "$MIRROR"

in_root() { env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  chroot "$ROOTFS" "$@"; }
install_python() {
  tar -xzf "$STAGED" -C "$ROOTFS"
  for m in idle pydoc python; do ln -s "${m}3" "$ROOTFS/usr/local/bin/$m"; done
  ln -s python3-config "$ROOTFS/usr/local/bin/python-config"
  mount -t proc proc "$ROOTFS/proc"
  in_root ldconfig
  local missing
  # _tkinter stays without Tk, as in the official slim image
  missing=$(in_root sh -c 'find /usr/local -type f \( -name "*.so*" -o -perm -u+x \) \
    ! -name "*tkinter*" -exec ldd {} + 2>/dev/null | grep "not found" | sort -u' || true)
  [ -z "$missing" ] || die "libraries missing from the root filesystem: $missing"
  quiet "$LOGS/pip.log" in_root python3 -m ensurepip
  mkdir -p "$ROOTFS/tmp/wheels" && cp "$OWN"/wheels/*.whl "$ROOTFS/tmp/wheels/"
  quiet "$LOGS/pip.log" in_root python3 -m pip install --no-cache-dir --no-index \
    --find-links /tmp/wheels --disable-pip-version-check "${WHEELS[@]}"
  in_root pip --version
  umount "$ROOTFS/proc"
  find "$ROOTFS/usr/local" -depth \( -type d \( -name test -o -name tests -o -name idle_test \
    -o -name __pycache__ \) -o -type f -name '*.py[co]' \) -exec rm -rf {} +
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/tmp/* \
    "$ROOTFS"/root/.cache "$ROOTFS"/var/log/*.log "$ROOTFS"/etc/hostname
  # Slim like debian:bookworm-slim, which python:*-slim starts from: no docs, man pages, locales.
  printf 'path-exclude /usr/share/%s/*\n' doc groff info linda lintian/overrides locale man \
    >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker"
  echo 'path-include /usr/share/doc/*/copyright' >>"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker"
  find "$ROOTFS/usr/share/doc" -type f ! -name copyright -delete
  find "$ROOTFS/usr/share/doc" -depth -type d -empty -delete
  rm -rf "$ROOTFS"/usr/share/{groff,info,linda,lintian/overrides,locale,man}/*
}
timed "install Python, pip, setuptools, wheel into the root filesystem" install_python

import_image() {
  local id
  id=$(tar -C "$ROOTFS" --numeric-owner -c . | "$DOCKER" import \
    -c 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' -c "ENV PYTHON_VERSION=$PY_VERSION" \
    -c "ENV PYTHON_PIP_VERSION=${WHEELS[0]#*==}" -c 'CMD ["python3"]' \
    -c "LABEL modelkiln.standin.key=$KEY" -c 'LABEL modelkiln.standin.for=python:3.6-slim' -)
  "$DOCKER" run --rm "$id" python3 -c "import ${MODULES// /, }; ctypes.CDLL(None)
print('    ', ssl.OPENSSL_VERSION, '/ sqlite', _sqlite3.sqlite_version)" \
    || { "$DOCKER" rmi "$id" >/dev/null; die "the new image fails its import check"; }
  keep_image "$id"
}
timed "docker import $TAG" import_image
echo "---> $TAG built in $((SECONDS - START)) s"
