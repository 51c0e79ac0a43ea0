#!/usr/bin/env bash
# Build the local Debian 12 + python3 base image that Dockerfile.py311 starts from when the
# engine cannot pull python:3.11-slim (see standins/README.md).
# Usage: standins/python311-base.sh IMAGE_TAG
# Env: DOCKER (client, default /usr/bin/docker), MODELKILN_CACHE (logs; default
#      ${XDG_CACHE_HOME:-~/.cache}/modelkiln).
# The image carries the label modelkiln.standin.key: the sha256 of this script, common.sh and
# the module that names the apt mirror; an image with the same key is kept, any other one is rebuilt.
set -euo pipefail

# shellcheck source=standins/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PACKAGES=python3,python3-venv,ca-certificates,passwd

KEY=$(cat "${BASH_SOURCE[0]}" "$REPO/standins/common.sh" "$REPO/modelkiln_cli/hostconfig.py" \
  | sha256sum | cut -c1-64)
up_to_date

command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap" \
  "(make engine installs it)"
MIRROR=$(cd "$REPO" && python3 -m modelkiln_cli.hostconfig apt-mirror) \
  || die "no Debian mirror found: 'python3 -m modelkiln_cli.hostconfig apt-mirror' must print one"
mkdir -p "$CACHE/python311"
LOG=$CACHE/python311/debootstrap.log
ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/modelkiln-py311.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT

echo "---> debootstrap bookworm from $MIRROR (log: $LOG)"
debootstrap --variant=minbase --include=$PACKAGES bookworm "$ROOTFS" "$MIRROR" >"$LOG" 2>&1 \
  || { tail -20 "$LOG" >&2; die "debootstrap failed; full log: $LOG"; }
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
echo "---> docker import $TAG"
id=$(tar -C "$ROOTFS" --numeric-owner -c . | "$DOCKER" import -c 'ENV LANG=C.UTF-8' \
  -c 'CMD ["python3"]' -c "LABEL modelkiln.standin.key=$KEY" \
  -c 'LABEL modelkiln.standin.for=python:3.11-slim' -)
"$DOCKER" run --rm "$id" python3 -c "import ssl, venv, ensurepip" \
  || { "$DOCKER" rmi "$id" >/dev/null; die "the new image fails its import check"; }
keep_image "$id"
