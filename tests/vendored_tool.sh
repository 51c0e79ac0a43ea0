# Sourced by tests/h2spec/build.sh and tests/s2i/build.sh: a Go tool built from a tarball in
# ../shared/vendor, offline, cached under ~/.cache/modelkiln/<tool>-<sha256 of the tarball and
# the build script>/<tool>. After `vendored_tool TOOL TARBALL_NAME GO_HINT`, $tarball is the
# source, $cache the folder for the binary, and the script has already printed the cached
# binary's path and exited when it was built before.
vendored_tool() {
    tool=$1
    vendor=${VENDOR_DIR:-$here/../../../shared/vendor}
    tarball=$vendor/$2
    if [ ! -f "$tarball" ]; then
        echo "ERROR: $tarball not found: set VENDOR_DIR to the folder holding $2" >&2
        exit 1
    fi
    if ! command -v go >/dev/null 2>&1; then
        echo "ERROR: no go: $3" >&2
        exit 1
    fi
    key=$(cat "$tarball" "$0" "$here/../vendored_tool.sh" | sha256sum | cut -c1-16)
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/modelkiln/$tool-$key
    if [ -x "$cache/$tool" ]; then
        echo "$cache/$tool"
        exit 0
    fi
}
