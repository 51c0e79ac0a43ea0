#!/bin/sh
# Build the real s2i (source-to-image v1.3.8) from the vendored source, offline, and print the
# binary's path: Debian's golang-go (1.19), the module's own vendor/ folder (no Go module
# proxy here; see ../shared/vendor/README.md). Cached under
# ~/.cache/modelkiln/s2i-<key>/s2i (tests/vendored_tool.sh).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../vendored_tool.sh"
vendored_tool s2i source-to-image-v1.3.8.tar.gz "run make reliability-tools (Debian's golang-go)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar xzf "$tarball" -C "$work"
src=$(find "$work" -maxdepth 2 -name go.mod -exec dirname {} \; | head -1)
echo "---> building s2i v1.3.8 (its vendor/ folder, offline)" >&2
(cd "$src" && GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0 GOCACHE="$work/gocache" \
    go build -o "$work/s2i" \
    -ldflags "-X github.com/openshift/source-to-image/pkg/version.versionFromGit=v1.3.8" \
    ./cmd/s2i) >&2
mkdir -p "$cache"
mv "$work/s2i" "$cache/s2i"
echo "$cache/s2i"
