#!/bin/sh
# Build h2spec (the HTTP/2 conformance suite) from the vendored source, offline, and print the
# binary's path. Debian's golang-go (1.19) in GOPATH mode with Debian's golang-*-dev packages
# (no Go module proxy here): see ../shared/vendor/README.md. The binary is cached under
# ~/.cache/modelkiln/h2spec-<sha256 of the tarball and this script>/h2spec.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
vendor=${VENDOR_DIR:-$here/../../../shared/vendor}
tarball=$vendor/h2spec-af83a65.tar.gz
if [ ! -f "$tarball" ]; then
    echo "ERROR: $tarball not found: set VENDOR_DIR to the folder holding h2spec-af83a65.tar.gz" >&2
    exit 1
fi
if ! command -v go >/dev/null 2>&1; then
    echo "ERROR: no go: apt-get install golang-go golang-github-spf13-cobra-dev" \
         "golang-github-fatih-color-dev golang-golang-x-net-dev" >&2
    exit 1
fi
key=$(cat "$tarball" "$0" | sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/modelkiln/h2spec-$key
if [ -x "$cache/h2spec" ]; then
    echo "$cache/h2spec"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/gopath/src/github.com/summerwind
mkdir -p "$src"
tar xzf "$tarball" -C "$src"
mv "$src/h2spec-af83a65" "$src/h2spec"
echo "---> building h2spec (GOPATH mode, Debian's Go packages)" >&2
(cd "$src/h2spec" && GO111MODULE=off GOFLAGS= GOPROXY=off \
    GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/gocache" \
    go build -o "$work/h2spec" ./cmd/h2spec) >&2
mkdir -p "$cache"
mv "$work/h2spec" "$cache/h2spec"
echo "$cache/h2spec"
