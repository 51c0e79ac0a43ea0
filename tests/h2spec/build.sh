#!/bin/sh
# Build h2spec (the HTTP/2 conformance suite) from the vendored source, offline, and print the
# binary's path. Debian's golang-go (1.19) in GOPATH mode with Debian's golang-*-dev packages
# (no Go module proxy here): see ../shared/vendor/README.md. The binary is cached under
# ~/.cache/modelkiln/h2spec-<key>/h2spec (tests/vendored_tool.sh).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../vendored_tool.sh"
vendored_tool h2spec h2spec-af83a65.tar.gz "apt-get install golang-go golang-github-spf13-cobra-dev golang-github-fatih-color-dev golang-golang-x-net-dev"

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
