#!/usr/bin/env bash
# Build the local stand-in for nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu20.04, the base of
# Dockerfile.py38-cuda, when the engine cannot pull it (see standins/README.md): Debian 11
# (bullseye, minbase) with CUDA 11.8's runtime libraries and cuDNN 8.9 taken from NVIDIA's
# PyPI wheels (requirements/cuda-cu11.txt) and laid out where the real image has them, and
# the real image's CUDA environment variables. Like the real base it has no Python: the
# Dockerfile installs the distribution's own (Ubuntu 20.04: python3.8; bullseye: python3.9).
# Usage: standins/cuda11-base.sh IMAGE_TAG
# Env: DOCKER (client, default /usr/bin/docker), MODELKILN_CACHE (wheels and logs; default
#      ${XDG_CACHE_HOME:-~/.cache}/modelkiln).
# The image carries the label modelkiln.standin.key: the sha256 of this script, common.sh,
# the wheel list and the module that names the apt mirror; an image with the same key is
# kept, any other one is rebuilt.
set -euo pipefail

# shellcheck source=standins/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
WHEELS_LIST=$REPO/requirements/cuda-cu11.txt
CUDA_VERSION=11.8.0
CUDA_DIR=usr/local/cuda-11.8
CUDA_LIB=$CUDA_DIR/targets/x86_64-linux/lib
SYSTEM_LIB=usr/lib/x86_64-linux-gnu   # the real image keeps cuDNN and NCCL here (their .debs)

KEY=$(cat "${BASH_SOURCE[0]}" "$REPO/standins/common.sh" "$REPO/modelkiln_cli/hostconfig.py" \
  "$WHEELS_LIST" | sha256sum | cut -c1-64)
up_to_date

command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap" \
  "(make engine installs it)"
MIRROR=$(cd "$REPO" && python3 -m modelkiln_cli.hostconfig apt-mirror) \
  || die "no Debian mirror found: 'python3 -m modelkiln_cli.hostconfig apt-mirror' must print one"
WORK=$CACHE/cuda11
mkdir -p "$WORK/wheels"
ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/modelkiln-cuda11.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT

echo "---> NVIDIA's CUDA 11.8 wheels into $WORK/wheels (the host's pip settings; kept)"
python3 -m pip download --quiet --no-deps --only-binary :all: --platform manylinux2014_x86_64 \
  --python-version 3.9 -d "$WORK/wheels" -r "$WHEELS_LIST" >"$WORK/pip.log" 2>&1 \
  || { tail -20 "$WORK/pip.log" >&2; die "pip download failed; full log: $WORK/pip.log"; }

echo "---> debootstrap bullseye from $MIRROR (log: $WORK/debootstrap.log)"
debootstrap --variant=minbase --include=ca-certificates,passwd bullseye "$ROOTFS" "$MIRROR" \
  >"$WORK/debootstrap.log" 2>&1 \
  || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed; full log: $WORK/debootstrap.log"; }
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*

echo "---> CUDA libraries into /$CUDA_LIB, cuDNN and NCCL into /$SYSTEM_LIB"
mkdir -p "$ROOTFS/$CUDA_LIB" "$ROOTFS/$SYSTEM_LIB"
python3 - "$WORK/wheels" "$WHEELS_LIST" "$ROOTFS/$CUDA_LIB" "$ROOTFS/$SYSTEM_LIB" <<'PY'
import os, re, shutil, sys, zipfile

wheels, listing, cuda_lib, system_lib = sys.argv[1:]
wanted = [line.split("==") for line in open(listing)
          if line.strip() and not line.startswith("#")]
for name, version in wanted:
    stem = "%s-%s-" % (name.replace("-", "_"), version.strip())
    found = [w for w in os.listdir(wheels) if w.startswith(stem) and w.endswith(".whl")]
    if not found:
        sys.exit("no wheel %s*.whl in %s" % (stem, wheels))
    target = system_lib if name.startswith(("nvidia-cudnn", "nvidia-nccl")) else cuda_lib
    with zipfile.ZipFile(os.path.join(wheels, found[0])) as archive:
        for member in archive.namelist():
            if not re.match(r"^nvidia/[a-z_]+/lib/[^/]+\.so(\.[0-9]+)*$", member):
                continue
            out = os.path.join(target, os.path.basename(member))
            with archive.open(member) as source, open(out, "wb") as sink:
                shutil.copyfileobj(source, sink)
            os.chmod(out, 0o755)
            print("     %s" % os.path.relpath(out, os.path.dirname(os.path.dirname(target))))
PY
# As the real image: the full version's file behind the soname, /usr/local/cuda{,-11} links,
# lib64, and the loader's configuration for the CUDA folder.
cudart_version=$(sed -n 's/^nvidia-cuda-runtime-cu11==//p' "$WHEELS_LIST")
mv "$ROOTFS/$CUDA_LIB/libcudart.so.11.0" "$ROOTFS/$CUDA_LIB/libcudart.so.$cudart_version"
ln -s "libcudart.so.$cudart_version" "$ROOTFS/$CUDA_LIB/libcudart.so.11.0"
ln -s cuda-11.8 "$ROOTFS/usr/local/cuda"
ln -s cuda-11.8 "$ROOTFS/usr/local/cuda-11"
ln -s targets/x86_64-linux/lib "$ROOTFS/$CUDA_DIR/lib64"
echo /usr/local/cuda-11/targets/x86_64-linux/lib > "$ROOTFS/etc/ld.so.conf.d/988_cuda-11.conf"
printf '/usr/local/nvidia/lib\n/usr/local/nvidia/lib64\n' > "$ROOTFS/etc/ld.so.conf.d/nvidia.conf"
chroot "$ROOTFS" /sbin/ldconfig

echo "---> docker import $TAG"
cudnn_version=$(sed -n 's/^nvidia-cudnn-cu11==//p' "$WHEELS_LIST")
id=$(tar -C "$ROOTFS" --numeric-owner -c . | "$DOCKER" import \
  -c 'ENV LANG=C.UTF-8' \
  -c 'ENV PATH=/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64' \
  -c "ENV CUDA_VERSION=$CUDA_VERSION" \
  -c "ENV NV_CUDNN_VERSION=$cudnn_version" \
  -c 'ENV NVIDIA_VISIBLE_DEVICES=all' \
  -c 'ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility' \
  -c 'ENV NVIDIA_REQUIRE_CUDA=cuda>=11.8' \
  -c 'CMD ["/bin/bash"]' -c "LABEL modelkiln.standin.key=$KEY" \
  -c 'LABEL modelkiln.standin.for=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu20.04' \
  -c "LABEL com.nvidia.cudnn.version=$cudnn_version" -)
"$DOCKER" run --rm "$id" sh -c 'for lib in libcudart.so.11.0 libcublas.so.11 libcublasLt.so.11 \
    libcudnn.so.8 libcudnn_ops_infer.so.8 libcufft.so.10 libcurand.so.10 libcusolver.so.11 \
    libcusparse.so.11 libnccl.so.2 libnvrtc.so.11.2; do
      ldconfig -p | grep -q "$lib " || { echo "missing $lib" >&2; exit 1; }; done' \
  || { "$DOCKER" rmi "$id" >/dev/null; die "the new image fails its library check"; }
keep_image "$id"
