"""GPUs: which devices each worker gets, and the doctor that says whether the image's CUDA
libraries and frameworks can use the GPUs the container sees.

Devices are split by ``CUDA_VISIBLE_DEVICES``: with ``MODELKILN_GPUS_PER_WORKER=N`` each
worker gets N of the devices the container sees, round robin by the worker's slot (the
lowest slot no live worker holds, so a replaced worker takes the devices of the one it
replaces). The variable is set after the fork and before the model class is constructed;
CUDA reads it when it first starts in the process.

The doctor (``python -m python_runtime.gpu``, ``modelkiln doctor``) reads the driver from
``/proc``, finds the CUDA runtime and cuDNN libraries the way the loader would, and imports
the installed frameworks (PyTorch, TensorFlow, ONNX Runtime) to ask them what they were built
for and what they can use. The server runs the same check once, on images that carry CUDA or
nodes with a GPU: the driver and libraries in the master at start (files only: CUDA must not
start before the fork), the frameworks the model imported in the first worker once its
``load()`` is done (nothing more is imported for it).
"""

import argparse
import ctypes
import glob
import importlib
import json
import logging
import os
import re
import sys
from typing import Any, Dict, Iterable, List, Optional, Tuple

log = logging.getLogger("modelkiln")

ENV = "CUDA_VISIBLE_DEVICES"
PROC = "/proc"
DEV = "/dev"
# Where CUDA's runtime libraries are looked for, besides LD_LIBRARY_PATH and the nvidia/*
# packages of pip's CUDA wheels (the nvidia/cuda base images keep them in the first two).
LIBRARY_DIRS = ("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
                "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64")
FRAMEWORKS = ("torch", "tensorflow", "onnxruntime")

# What this worker was given (set by assign() after the fork).
WORKER = {}  # type: Dict[str, Any]


# -- devices -------------------------------------------------------------------------------

def visible_devices(environ: Dict[str, str], proc: str = PROC, dev: str = DEV) -> List[str]:
    """The devices this container's processes may use, as CUDA_VISIBLE_DEVICES entries.

    An existing CUDA_VISIBLE_DEVICES is the list (indexes or GPU-/MIG- UUIDs; as CUDA does,
    an entry starting with '-' ends it). Otherwise the driver's device count (its /proc
    folder, else the /dev/nvidiaN nodes the container runtime mounted), numbered from 0."""
    text = environ.get(ENV)
    if text is not None:
        devices = []
        for entry in text.split(","):
            entry = entry.strip()
            if not entry or entry.startswith("-"):
                break
            devices.append(entry)
        return devices
    return [str(i) for i in range(_driver_gpu_count(proc) or _device_node_count(dev))]


def _driver_gpu_count(proc: str) -> int:
    try:
        return len(os.listdir(os.path.join(proc, "driver", "nvidia", "gpus")))
    except OSError:
        return 0


def _device_node_count(dev: str) -> int:
    try:
        return sum(1 for name in os.listdir(dev) if re.match(r"^nvidia[0-9]+$", name))
    except OSError:
        return 0


def worker_devices(devices: List[str], slot: int, per_worker: int) -> List[str]:
    """Slot ``slot``'s devices: ``per_worker`` of them, round robin (workers share devices
    when there are more workers than devices)."""
    if not devices or per_worker < 1:
        return []
    count = len(devices)
    return [devices[(slot * per_worker + k) % count] for k in range(min(per_worker, count))]


def free_slot(taken: Iterable[int]) -> int:
    """The lowest slot no live worker holds."""
    used = set(taken)
    slot = 0
    while slot in used:
        slot += 1
    return slot


def split_warning(device_count: int, workers: int, per_worker: int) -> Optional[str]:
    """A start-up warning when the split leaves devices idle or shared (None when exact)."""
    if per_worker < 1:
        return None
    if device_count == 0:
        return ("MODELKILN_GPUS_PER_WORKER=%d, but this container sees no GPU (no NVIDIA "
                "driver, no /dev/nvidia* and no CUDA_VISIBLE_DEVICES): the workers run on the "
                "CPU. Request GPUs for the pod (resources.gpu in deploy.yaml) or run the "
                "container with --gpus" % per_worker)
    wanted = workers * per_worker
    if wanted > device_count:
        return ("%d worker(s) x %d GPU(s) = %d, but this container sees %d GPU(s): workers "
                "share devices (round robin)" % (workers, per_worker, wanted, device_count))
    if wanted < device_count:
        return ("%d worker(s) x %d GPU(s) use %d of the %d GPUs this container sees; set "
                "GUNICORN_WORKERS=%d to use them all" % (workers, per_worker, wanted,
                                                         device_count,
                                                         device_count // per_worker))
    return None


def assign(slot: int, per_worker: int, environ: Any = None) -> List[str]:
    """In a worker, before the class is constructed: take slot ``slot``'s devices (sets
    CUDA_VISIBLE_DEVICES; with no device visible it is left alone)."""
    environ = os.environ if environ is None else environ
    devices = worker_devices(visible_devices(environ), slot, per_worker)
    if devices:
        environ[ENV] = ",".join(devices)
    WORKER.clear()
    WORKER.update(slot=slot, devices=devices, per_worker=per_worker)
    return devices


def describe() -> Optional[str]:
    """This worker's devices as /docs and the V2 metadata show them (None when the server
    was not told to split GPUs)."""
    if not WORKER.get("per_worker"):
        return None
    if not WORKER["devices"]:
        return "cpu (no GPU visible; worker %d)" % WORKER["slot"]
    return "cuda: %s=%s (worker %d)" % (ENV, ",".join(WORKER["devices"]), WORKER["slot"])


# -- the doctor ----------------------------------------------------------------------------

class Finding(object):
    """One line of the doctor's report: ``level`` is ok, info, warning or error."""

    def __init__(self, topic: str, level: str, text: str) -> None:
        self.topic = topic
        self.level = level
        self.text = text

    def as_dict(self) -> Dict[str, str]:
        return {"topic": self.topic, "level": self.level, "text": self.text}


def driver_version(proc: str = PROC) -> Optional[str]:
    try:
        with open(os.path.join(proc, "driver", "nvidia", "version")) as handle:
            first = handle.readline()
    except OSError:
        return None
    found = re.search(r"Kernel Module\s+(?:for \S+\s+)?([0-9][0-9.]*)", first)
    return found.group(1) if found else first.strip() or "unknown"


def gpu_names(proc: str = PROC) -> List[str]:
    names = []
    for info in sorted(glob.glob(os.path.join(proc, "driver", "nvidia", "gpus", "*",
                                              "information"))):
        try:
            with open(info) as handle:
                for line in handle:
                    if line.startswith("Model:"):
                        names.append(line.split(":", 1)[1].strip())
                        break
        except OSError:
            continue
    return names


def _site_dirs() -> List[str]:
    return [entry for entry in sys.path if entry and os.path.isdir(os.path.join(entry, "nvidia"))]


def library_dirs(environ: Dict[str, str]) -> List[str]:
    dirs = [d for d in (environ.get("LD_LIBRARY_PATH") or "").split(":") if d]
    dirs += list(LIBRARY_DIRS)
    for site in _site_dirs():  # pip's CUDA wheels: nvidia/<part>/lib
        dirs += sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib")))
    seen = set()  # type: set
    out = []
    for d in dirs:
        if d not in seen and os.path.isdir(d):
            seen.add(d)
            out.append(d)
    return out


def find_library(stem: str, dirs: List[str]) -> Optional[str]:
    """The first ``<stem>.so.<version>`` in ``dirs`` (the longest version name in the first
    folder that has one)."""
    for d in dirs:
        found = sorted(glob.glob(os.path.join(d, stem + ".so.*")), key=len)
        if found:
            return found[-1]
    return None


def library_version(path: str, stem: str) -> str:
    return os.path.basename(path)[len(stem) + len(".so."):]


def cuda_runtime_version(path: str, ask: bool = True) -> Tuple[bool, str]:
    """(loaded, version) of a libcudart, or (False, why it does not load). With ``ask`` the
    library is asked (cudaRuntimeGetVersion: CUDA 12's answers without a driver, CUDA 11's
    does not and may start the driver, so the server's master never asks); otherwise, or when
    it does not say, the version is the one its pip wheel or its file name carries."""
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        return False, str(exc)
    if ask:
        value = ctypes.c_int(0)
        try:
            code = lib.cudaRuntimeGetVersion(ctypes.byref(value))
        except AttributeError as exc:
            return False, str(exc)
        if code == 0 and value.value:
            return True, "%d.%d" % (value.value // 1000, (value.value % 1000) // 10)
    return True, "%s (%s)" % packaged_version(path)


def packaged_version(path: str) -> Tuple[str, str]:
    """(version, where it comes from) of a libcudart without asking it: the version of the
    nvidia-cuda-runtime wheel it came from, else its file name's."""
    lib_dir = os.path.dirname(path)
    if os.path.basename(os.path.dirname(lib_dir)) == "cuda_runtime":   # site/nvidia/cuda_runtime/lib
        site = os.path.dirname(os.path.dirname(os.path.dirname(lib_dir)))
        found = sorted(glob.glob(os.path.join(site, "nvidia_cuda_runtime_cu*-*.dist-info")))
        if found:
            name = os.path.basename(found[-1])[:-len(".dist-info")]
            return name.split("-", 1)[1], "its wheel's version"
    return library_version(path, "libcudart"), "its file name's version"


def cuda_device_count(path: str) -> Tuple[int, str]:
    """(devices, "" or the runtime's error text): starts the CUDA driver in this process."""
    lib = ctypes.CDLL(path)
    count = ctypes.c_int(0)
    code = lib.cudaGetDeviceCount(ctypes.byref(count))
    if code == 0:
        return count.value, ""
    lib.cudaGetErrorString.restype = ctypes.c_char_p
    text = lib.cudaGetErrorString(code) or b"error %d" % code
    return 0, text.decode("utf-8", "replace")


def cudnn_version(path: str) -> Tuple[bool, str]:
    """(loaded, "major.minor.patch") from cudnnGetVersion (no driver needed)."""
    try:
        lib = ctypes.CDLL(path)
        lib.cudnnGetVersion.restype = ctypes.c_size_t
        value = int(lib.cudnnGetVersion())
    except (OSError, AttributeError) as exc:
        return False, str(exc)
    if value >= 90000:  # cuDNN 9: major * 10000 + minor * 100 + patch
        return True, "%d.%d.%d" % (value // 10000, (value % 10000) // 100, value % 100)
    return True, "%d.%d.%d" % (value // 1000, (value % 1000) // 100, value % 100)


def _installed(name: str) -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def has_kernels(arches: Iterable[str], major: int, minor: int) -> bool:
    """Whether a build with these architectures (torch.cuda.get_arch_list(): sm_XY cubins,
    compute_XY PTX) runs on a device of capability major.minor: a cubin of the same major and
    a minor not above the device's, or PTX of a capability not above it (compiled at load)."""
    for arch in arches:
        found = re.match(r"^(sm|compute)_([0-9]+)([0-9])[a-z]?$", arch)
        if not found:
            continue
        kind, a_major, a_minor = found.group(1), int(found.group(2)), int(found.group(3))
        if kind == "sm" and a_major == major and a_minor <= minor:
            return True
        if kind == "compute" and (a_major, a_minor) <= (major, minor):
            return True
    return False


def _check_torch(gpus: int) -> List[Finding]:
    try:
        torch = importlib.import_module("torch")
    except Exception as exc:  # a CUDA build whose libraries are missing fails here
        return [Finding("torch", "error", "PyTorch is installed but does not import: %s" % exc)]
    cuda = getattr(torch.version, "cuda", None)
    if not cuda:
        level = "error" if gpus else "info"
        return [Finding("torch", level, "PyTorch %s is a CPU-only build%s" % (
            torch.__version__, ": it cannot use the GPU this container sees; install a CUDA "
            "build" if gpus else ""))]
    if not gpus:
        return [Finding("torch", "warning",
                        "PyTorch %s is built for CUDA %s, but no GPU is visible: models run "
                        "on the CPU" % (torch.__version__, cuda))]
    try:
        available = torch.cuda.is_available()
    except Exception as exc:
        return [Finding("torch", "error", "PyTorch %s (CUDA %s) cannot start CUDA: %s"
                        % (torch.__version__, cuda, exc))]
    if not available:
        return [Finding("torch", "error",
                        "PyTorch %s (CUDA %s) sees no usable GPU although %d device(s) are visible: "
                        "the driver may be older than CUDA %s needs, or the devices are hidden"
                        % (torch.__version__, cuda, gpus, cuda))]
    findings = []
    arches = set(torch.cuda.get_arch_list())
    for index in range(torch.cuda.device_count()):
        major, minor = torch.cuda.get_device_capability(index)
        name = torch.cuda.get_device_name(index)
        arch = "sm_%d%d" % (major, minor)
        runs = has_kernels(arches, major, minor)
        findings.append(Finding("torch", "ok" if runs else "error",
                                "PyTorch %s (CUDA %s) on cuda:%d %s (%s): %s" % (
                                    torch.__version__, cuda, index, name, arch,
                                    "kernels present" if runs else "no kernels for %s in "
                                    "this build (it has %s)" % (arch, ", ".join(
                                        sorted(arches))))))
    return findings


def _check_tensorflow(gpus: int) -> List[Finding]:
    try:
        tf = importlib.import_module("tensorflow")
        built = bool(tf.test.is_built_with_cuda())
        seen = len(tf.config.list_physical_devices("GPU"))
    except Exception as exc:
        return [Finding("tensorflow", "error", "TensorFlow does not import or list devices: "
                        "%s" % exc)]
    if not built:
        level = "error" if gpus else "info"
        return [Finding("tensorflow", level, "TensorFlow %s is a CPU-only build" %
                        tf.__version__)]
    if not gpus:
        return [Finding("tensorflow", "warning", "TensorFlow %s is built with CUDA, but no "
                        "GPU is visible: models run on the CPU" % tf.__version__)]
    return [Finding("tensorflow", "ok" if seen else "error",
                    "TensorFlow %s sees %d of %d GPU(s)" % (tf.__version__, seen, gpus))]


def _check_onnxruntime(gpus: int) -> List[Finding]:
    try:
        ort = importlib.import_module("onnxruntime")
        providers = list(ort.get_available_providers())
    except Exception as exc:
        return [Finding("onnxruntime", "error", "ONNX Runtime does not import: %s" % exc)]
    cuda = "CUDAExecutionProvider" in providers
    if not cuda:
        level = "error" if gpus else "info"
        return [Finding("onnxruntime", level, "ONNX Runtime %s has no CUDA provider (%s)%s" % (
            ort.__version__, ", ".join(providers),
            ": install onnxruntime-gpu to use the GPU" if gpus else ""))]
    return [Finding("onnxruntime", "ok" if gpus else "warning",
                    "ONNX Runtime %s has the CUDA provider%s" % (
                        ort.__version__, "" if gpus else ", but no GPU is visible: sessions "
                        "fall back to the CPU provider"))]


CHECKS = {"torch": _check_torch, "tensorflow": _check_tensorflow,
          "onnxruntime": _check_onnxruntime}


def imported_frameworks() -> List[str]:
    """The frameworks this process has imported (the model's, after its load())."""
    return [name for name in FRAMEWORKS if name in sys.modules]


def examine(environ: Dict[str, str], frameworks: Iterable[str] = FRAMEWORKS,
            proc: str = PROC, dev: str = DEV, probe_devices: bool = True) -> List[Finding]:
    """The doctor's findings for this process's environment; ``frameworks``: those to check
    (each imported unless it is not installed). ``probe_devices`` asks the CUDA runtime for
    its devices, which starts the driver in this process (never in the server's master)."""
    findings = []
    version = driver_version(proc)
    devices = visible_devices(environ, proc, dev)
    if version is None and not devices:
        findings.append(Finding("driver", "info", "no NVIDIA driver visible (no "
                                "/proc/driver/nvidia, no /dev/nvidia*): CPU only"))
    else:
        names = gpu_names(proc)
        findings.append(Finding("driver", "ok", "NVIDIA driver %s; %d GPU(s) visible%s%s" % (
            version or "(version not readable)", len(devices),
            " (%s=%s)" % (ENV, environ[ENV]) if ENV in environ else "",
            ": " + ", ".join(names) if names else "")))
    dirs = library_dirs(environ)
    cudart = find_library("libcudart", dirs)
    declared = environ.get("CUDA_VERSION")
    if cudart:
        loaded, version = cuda_runtime_version(cudart, ask=probe_devices)
        findings.append(Finding("cuda", "ok" if loaded else "error", "CUDA runtime %s (%s)%s%s" % (
            version if loaded else "?", cudart,
            "" if loaded else ": does not load: %s" % version,
            " (CUDA_VERSION=%s)" % declared if declared else "")))
        if loaded and probe_devices:
            count, error = cuda_device_count(cudart)
            findings.append(Finding("cuda", "ok" if count else "info",
                                    "cudaGetDeviceCount: %d%s" % (
                                        count, " (%s)" % error if error else "")))
    else:
        findings.append(Finding("cuda", "info", "no CUDA runtime library (libcudart) in this "
                                "image%s" % (" although CUDA_VERSION=%s" % declared
                                             if declared else "")))
    cudnn = find_library("libcudnn", dirs)
    if cudnn:
        loaded, version = cudnn_version(cudnn)
        findings.append(Finding("cudnn", "ok" if loaded else "error", "cuDNN %s (%s)%s" % (
            version if loaded else "?", cudnn, "" if loaded else ": does not load: %s" % version)))
    for name in frameworks:
        if name in sys.modules or _installed(name):
            findings += CHECKS[name](len(devices))
    return findings


def has_cuda(environ: Dict[str, str]) -> bool:
    """Whether the start-up check is worth logging: a GPU is visible, or the image carries
    CUDA (a runtime library, or the nvidia/cuda base's CUDA_VERSION)."""
    if driver_version() is not None or visible_devices(environ):
        return True
    return bool(environ.get("CUDA_VERSION")) or find_library(
        "libcudart", library_dirs(environ)) is not None


LEVELS = {"ok": logging.INFO, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}


def log_findings(findings: List[Finding], topics: Optional[Iterable[str]] = None) -> None:
    """The findings as log lines (only ``topics`` when given), and the summary's advice."""
    wanted = None if topics is None else set(topics)
    for finding in findings:
        if wanted is None or finding.topic in wanted:
            log.log(LEVELS[finding.level], "gpu doctor: %s: %s", finding.topic, finding.text)
    advice = summary(findings)
    if advice:
        log.warning("gpu doctor: %s", advice)


def log_at_start(environ: Dict[str, str]) -> None:
    """In the server's master: driver, devices and libraries (no framework is imported and
    CUDA does not start), when the image carries CUDA or a GPU is visible."""
    if has_cuda(environ):
        log_findings(examine(environ, frameworks=(), probe_devices=False))


def log_after_load(environ: Dict[str, str]) -> None:
    """In the first worker once load() is done: what the frameworks the model imported were
    built for and can use, with the advice for a GPU model on a CPU-only node."""
    imported = imported_frameworks()
    if imported and has_cuda(environ):
        log_findings(examine(environ, frameworks=imported, probe_devices=False),
                     topics=imported)


def summary(findings: List[Finding]) -> str:
    """One sentence for a GPU model that lands where it cannot use a GPU (or '')."""
    driver = [f for f in findings if f.topic == "driver"]
    cpu_only = driver and driver[0].level == "info"
    gpu_builds = [f for f in findings if f.topic in FRAMEWORKS and f.level == "warning"]
    if cpu_only and gpu_builds:
        return ("GPU frameworks on a node without a GPU: models fall back to the CPU. On "
                "Kubernetes request GPUs (resources.gpu in deploy.yaml, nvidia.com/gpu); with "
                "Docker add --gpus all")
    return ""


def report_lines(findings: List[Finding]) -> List[str]:
    lines = ["%-11s %-7s %s" % (f.topic, f.level, f.text) for f in findings]
    advice = summary(findings)
    if advice:
        lines.append(advice)
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m python_runtime.gpu",
        description="The GPU doctor: the NVIDIA driver and devices this process sees, the "
                    "CUDA runtime and cuDNN libraries it would load, and what the installed "
                    "PyTorch, TensorFlow and ONNX Runtime were built for and can use. Exit "
                    "status 1 when a framework cannot use a visible GPU or does not import.")
    parser.add_argument("--json", action="store_true", help="one JSON object per finding")
    parser.add_argument("--no-frameworks", action="store_true",
                        help="do not import the frameworks (driver and libraries only)")
    ns = parser.parse_args(argv)
    findings = examine(dict(os.environ), frameworks=() if ns.no_frameworks else FRAMEWORKS)
    if ns.json:
        for finding in findings:
            sys.stdout.write(json.dumps(finding.as_dict(), sort_keys=True) + "\n")
    else:
        sys.stdout.write("\n".join(report_lines(findings)) + "\n")
    return 1 if any(f.level == "error" for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
