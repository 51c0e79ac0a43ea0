# Shared by the stand-in scripts (sourced, not run): arguments, errors, and the image key label.
# A script sourcing this sets KEY, calls `up_to_date` before building and `keep_image ID` after.
# Its image key covers this file too (the scripts cat it into their KEY).

[ $# -eq 1 ] || { echo "usage: $0 IMAGE_TAG" >&2; exit 2; }
TAG=$1
REPO=$(dirname "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)")
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_API_VERSION=${DOCKER_API_VERSION:-1.41}
CACHE=${MODELKILN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelkiln}

die() { echo "ERROR: $*" >&2; exit 1; }

up_to_date() {  # exit 0 when $TAG already carries label modelkiln.standin.key=$KEY
  OLD=$("$DOCKER" image inspect -f '{{index .Config.Labels "modelkiln.standin.key"}}|{{.Id}}' \
    "$TAG" 2>/dev/null || true)
  if [ "${OLD%%|*}" = "$KEY" ]; then echo "---> $TAG is up to date"; exit 0; fi
}

keep_image() {  # tag image ID as $TAG and drop the image it replaces if nothing uses it
  "$DOCKER" tag "$1" "$TAG"
  if [ -n "${OLD#*|}" ] && [ "${OLD#*|}" != "$1" ]; then
    "$DOCKER" rmi "${OLD#*|}" >/dev/null 2>&1 || true
  fi
}
