"""``modelkiln doctor``: the GPU doctor (python_runtime.gpu) on this machine, or inside an
image with ``--image TAG`` (run with every GPU of the host when the host has a driver, so the
answer is the one a GPU node would give)."""

import argparse
import sys
from typing import Any, List, Optional

from python_runtime import gpu

from .engine import connect


def parser() -> argparse.ArgumentParser:
    out = argparse.ArgumentParser(
        prog="modelkiln doctor",
        description="Can the models use a GPU here? The NVIDIA driver and devices, the CUDA "
                    "runtime and cuDNN libraries, and what the installed PyTorch, TensorFlow "
                    "and ONNX Runtime were built for and can use. Exit status 1 when a "
                    "framework cannot use a visible GPU or does not import.")
    out.add_argument("--image", metavar="TAG",
                     help="check inside this app or builder image (its Python and libraries), "
                          "with the host's GPUs when it has any (docker run --gpus all)")
    out.add_argument("--json", action="store_true", help="one JSON object per finding")
    out.add_argument("--no-frameworks", action="store_true",
                     help="do not import the frameworks (driver and libraries only)")
    return out


def in_image(tag: str, args: List[str], client: Any = None) -> int:
    """The doctor inside ``tag`` (its entrypoint's ``doctor`` command); its output is
    printed, its exit status returned."""
    client = client or connect()
    requests = []  # type: List[Any]
    if gpu.driver_version() is not None:
        from docker.types import DeviceRequest

        requests = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    container = client.containers.create(tag, command=["doctor"] + args,
                                         device_requests=requests or None)
    try:
        container.start()
        status = container.wait().get("StatusCode", 1)
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    if "--json" in args:  # the run script's own lines (a conda environment's name): stderr
        lines = output.splitlines(True)
        sys.stderr.write("".join(line for line in lines if not line.startswith("{")))
        output = "".join(line for line in lines if line.startswith("{"))
    sys.stdout.write(output)
    return int(status)


def main(argv: Optional[List[str]] = None) -> int:
    ns = parser().parse_args(argv)
    args = (["--json"] if ns.json else []) + (["--no-frameworks"] if ns.no_frameworks else [])
    if ns.image:
        return in_image(ns.image, args)
    return gpu.main(args)
