"""GPUs per worker (MODELKILN_GPUS_PER_WORKER) and the GPU doctor (python_runtime.gpu).

No GPU is needed: the device lists are CUDA_VISIBLE_DEVICES values and fake /proc and /dev
folders, which is what CUDA and the doctor read. What a real GPU adds is in
tests/images/test_cuda.py (CUDA-enabled PyTorch in the CUDA builders) and bench/gpu.py.
"""

import json
import os
import signal
import subprocess
import sys
import types

import pytest

from python_runtime import gpu
from python_runtime.settings import Settings, SettingsError

try:
    from . import live
except ImportError:  # tests/python_runtime is not a package
    import live

REPO = live.REPO_ROOT
wait_for = live.wait_for
NVRM = ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build  "
        "(dvs-builder@U16-I3-B03-4-3)  Tue Aug 29 21:12:39 UTC 2023\n")


def fake_node(tmp_path, gpus, nodes=None):
    """A /proc with the driver's version and ``gpus`` GPU folders, and a /dev with ``nodes``
    /dev/nvidiaN files (default: one per GPU)."""
    proc, dev = tmp_path / "proc", tmp_path / "dev"
    dev.mkdir(parents=True)
    if gpus:
        (proc / "driver" / "nvidia").mkdir(parents=True)
        (proc / "driver" / "nvidia" / "version").write_text(NVRM)
        for index in range(gpus):
            folder = proc / "driver" / "nvidia" / "gpus" / ("0000:%02x:00.0" % index)
            folder.mkdir(parents=True)
            (folder / "information").write_text("Model: \t\t NVIDIA A10G\nIRQ: 42\n")
    for index in range(gpus if nodes is None else nodes):
        (dev / ("nvidia%d" % index)).write_text("")
    (dev / "nvidiactl").write_text("")
    return str(proc), str(dev)


# -- which devices a worker gets --------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("0,1,2,3", ["0", "1", "2", "3"]),
    (" 2, 3 ", ["2", "3"]),
    ("GPU-8e1b,GPU-77ac", ["GPU-8e1b", "GPU-77ac"]),
    ("0,-1,2", ["0"]),          # CUDA stops at an entry starting with '-'
    ("-1", []),
    ("", []),
])
def test_an_existing_cuda_visible_devices_is_the_device_list(tmp_path, value, expected):
    proc, dev = fake_node(tmp_path, 8)
    assert gpu.visible_devices({"CUDA_VISIBLE_DEVICES": value}, proc, dev) == expected


def test_without_the_variable_the_driver_or_the_device_nodes_count(tmp_path):
    proc, dev = fake_node(tmp_path / "driver", 3)
    assert gpu.visible_devices({}, proc, dev) == ["0", "1", "2"]
    proc, dev = fake_node(tmp_path / "nodes-only", 0, nodes=2)  # no /proc/driver/nvidia
    assert gpu.visible_devices({}, proc, dev) == ["0", "1"]
    proc, dev = fake_node(tmp_path / "none", 0)
    assert gpu.visible_devices({}, proc, dev) == []


@pytest.mark.parametrize("devices, per_worker, expected", [
    (["0", "1", "2", "3"], 2, [["0", "1"], ["2", "3"], ["0", "1"]]),
    (["0", "1", "2", "3"], 1, [["0"], ["1"], ["2"]]),
    (["0", "1"], 1, [["0"], ["1"], ["0"]]),              # more workers than devices: shared
    (["0", "1", "2"], 2, [["0", "1"], ["2", "0"], ["1", "2"]]),
    (["0"], 4, [["0"], ["0"], ["0"]]),                   # never a device twice in one worker
    ([], 1, [[], [], []]),
    (["0", "1"], 0, [[], [], []]),
])
def test_slots_take_devices_round_robin(devices, per_worker, expected):
    assert [gpu.worker_devices(devices, slot, per_worker) for slot in range(3)] == expected


def test_a_replacement_worker_takes_the_lowest_free_slot():
    assert gpu.free_slot([]) == 0
    assert gpu.free_slot([0, 1, 3]) == 2
    assert gpu.free_slot([-1, 1]) == 0   # a worker without a slot holds none


def test_assign_sets_the_variable_and_describe_shows_it():
    environ = {"CUDA_VISIBLE_DEVICES": "4,5,6,7"}
    try:
        assert gpu.assign(1, 2, environ) == ["6", "7"]
        assert environ["CUDA_VISIBLE_DEVICES"] == "6,7"
        assert gpu.describe() == "cuda: CUDA_VISIBLE_DEVICES=6,7 (worker 1)"
        environ = {"CUDA_VISIBLE_DEVICES": "-1"}
        assert gpu.assign(0, 1, environ) == []
        assert environ == {"CUDA_VISIBLE_DEVICES": "-1"}   # nothing to split: left alone
        assert gpu.describe() == "cpu (no GPU visible; worker 0)"
        gpu.assign(0, 0, {})
        assert gpu.describe() is None   # not asked to split: nothing shown
    finally:
        gpu.WORKER.clear()


def test_the_split_warns_when_devices_sit_idle_are_shared_or_missing():
    assert gpu.split_warning(4, 2, 2) is None
    assert gpu.split_warning(4, 2, 0) is None
    assert "GUNICORN_WORKERS=4" in gpu.split_warning(4, 1, 1)
    assert "share devices" in gpu.split_warning(2, 3, 1)
    assert "sees no GPU" in gpu.split_warning(0, 2, 1)


def test_gpus_per_worker_needs_the_class_constructed_in_the_workers(tmp_path):
    settings = Settings.load(["m.M"], {"MODELKILN_GPUS_PER_WORKER": "2"})
    assert settings.gpus_per_worker == 2
    with pytest.raises(SettingsError) as info:
        Settings.load(["m.M"], {"MODELKILN_GPUS_PER_WORKER": "1",
                                "MODELKILN_CONSTRUCT_IN": "master"})
    assert "MODELKILN_CONSTRUCT_IN=worker" in str(info.value)
    with pytest.raises(SettingsError) as info:
        Settings.load(["m.M"], {"MODELKILN_GPUS_PER_WORKER": "-1"})
    assert "MODELKILN_GPUS_PER_WORKER" in str(info.value)


# -- the doctor ---------------------------------------------------------------------------------

def test_the_driver_version_and_gpu_names_are_read_from_proc(tmp_path):
    proc, dev = fake_node(tmp_path, 2)
    assert gpu.driver_version(proc) == "535.104.05"
    assert gpu.gpu_names(proc) == ["NVIDIA A10G", "NVIDIA A10G"]
    (tmp_path / "proc" / "driver" / "nvidia" / "version").write_text(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.223.02  Sat Oct  7 15:39:11 UTC "
        "2023\n")
    assert gpu.driver_version(proc) == "470.223.02"
    assert gpu.driver_version(str(tmp_path / "nowhere")) is None


def test_the_cuda_runtime_and_cudnn_are_found_where_the_loader_looks(tmp_path):
    lib = tmp_path / "cuda" / "lib64"
    lib.mkdir(parents=True)
    for name in ("libcudart.so.11.0", "libcudart.so.11.8.89", "libcudnn.so.8",
                 "libcudnn.so.8.9.6"):
        (lib / name).write_text("")
    environ = {"LD_LIBRARY_PATH": "%s:/nonexistent" % lib}
    dirs = gpu.library_dirs(environ)
    assert dirs[0] == str(lib)
    found = gpu.find_library("libcudart", dirs)
    assert found == str(lib / "libcudart.so.11.8.89")
    assert gpu.library_version(found, "libcudart") == "11.8.89"
    findings = {f.topic: f for f in gpu.examine(environ, frameworks=(),
                                                proc=str(tmp_path / "p"),
                                                dev=str(tmp_path / "d"))}
    assert findings["driver"].level == "info" and "CPU only" in findings["driver"].text
    # empty files: found where the loader looks, and reported as not loading
    assert findings["cuda"].level == "error", findings["cuda"].text
    assert "libcudart.so.11.8.89): does not load" in findings["cuda"].text
    assert findings["cudnn"].level == "error"
    assert "libcudnn.so.8.9.6): does not load" in findings["cudnn"].text


def test_a_wheels_cuda_runtime_has_the_wheels_version(tmp_path):
    lib = tmp_path / "site" / "nvidia" / "cuda_runtime" / "lib"
    lib.mkdir(parents=True)
    (lib / "libcudart.so.12").write_text("")
    assert gpu.packaged_version(str(lib / "libcudart.so.12")) == ("12", "its file name's version")
    (tmp_path / "site" / "nvidia_cuda_runtime_cu12-12.8.90.dist-info").mkdir()
    assert gpu.packaged_version(str(lib / "libcudart.so.12")) == ("12.8.90",
                                                                 "its wheel's version")


@pytest.mark.parametrize("arches, capability, runs", [
    (["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"], (8, 9), True),
    (["sm_80", "sm_90"], (7, 5), False),
    (["sm_70", "compute_70"], (8, 6), True),     # PTX of a lower capability is compiled
    (["sm_90", "sm_100", "sm_120"], (10, 0), True),
    (["sm_90", "sm_100"], (12, 0), False),
    (["sm_90a"], (9, 0), True),
])
def test_kernels_for_a_device_follow_cudas_compatibility_rules(arches, capability, runs):
    assert gpu.has_kernels(arches, *capability) is runs


def fake_torch(cuda, available, arches=(), capability=(8, 6)):
    """A module with the attributes the doctor reads from torch (a CUDA build of PyTorch
    cannot be installed on the test machine's Python in time; tests/images uses a real one)."""
    torch = types.ModuleType("torch")
    torch.__version__ = "9.9.9" + ("+cu%s" % cuda.replace(".", "") if cuda else "+cpu")
    torch.version = types.SimpleNamespace(cuda=cuda)
    torch.cuda = types.SimpleNamespace(
        is_available=lambda: available, get_arch_list=lambda: list(arches),
        device_count=lambda: 1, get_device_capability=lambda index: capability,
        get_device_name=lambda index: "NVIDIA A10G")
    return torch


@pytest.mark.parametrize("torch, gpus, level, words", [
    (fake_torch("12.4", False), 0, "warning", "no GPU is visible: models run on the CPU"),
    (fake_torch(None, False), 0, "info", "CPU-only build"),
    (fake_torch(None, False), 1, "error", "install a CUDA build"),
    (fake_torch("12.4", False), 1, "error", "sees no usable GPU"),
    (fake_torch("12.4", True, ["sm_80", "sm_86"]), 1, "ok", "kernels present"),
    (fake_torch("12.4", True, ["sm_90"], (7, 5)), 1, "error", "no kernels for sm_75"),
])
def test_the_torch_check_says_what_the_build_can_use(monkeypatch, tmp_path, torch, gpus,
                                                      level, words):
    monkeypatch.setitem(sys.modules, "torch", torch)
    proc, dev = fake_node(tmp_path, gpus)
    findings = gpu.examine({}, frameworks=("torch",), proc=proc, dev=dev)
    found = [f for f in findings if f.topic == "torch"]
    assert len(found) == 1 and found[0].level == level and words in found[0].text, \
        [f.as_dict() for f in found]


def test_a_gpu_build_on_a_cpu_node_gets_the_advice_to_request_a_gpu(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", fake_torch("12.4", False))
    proc, dev = fake_node(tmp_path, 0)
    lines = gpu.report_lines(gpu.examine({}, frameworks=("torch",), proc=proc, dev=dev))
    assert any("resources.gpu in deploy.yaml" in line and "--gpus all" in line
               for line in lines), lines


def run_quietly(*argv):
    """A doctor run in a subprocess with every device hidden: (exit status, output)."""
    done = subprocess.run([sys.executable, "-m"] + list(argv), cwd=str(REPO),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=60,
                          env=dict(os.environ, CUDA_VISIBLE_DEVICES="-1"))
    return done.returncode, done.stdout


def test_the_doctor_runs_as_a_module_and_reports_json():
    code, output = run_quietly("python_runtime.gpu", "--json", "--no-frameworks")
    assert code == 0, output
    topics = [json.loads(line)["topic"] for line in output.splitlines()]
    assert topics[0] == "driver" and "cuda" in topics, output


def test_modelkiln_doctor_checks_this_machine():
    code, output = run_quietly("modelkiln_cli.cli", "doctor", "--no-frameworks")
    assert code == 0, output
    assert output.startswith("driver ") and "cuda " in output, output


# -- a server with GPUs per worker -----------------------------------------------------------

def answers_by_worker(server, count, tries=400):
    """{pid: (devices at __init__, devices now)} from fresh connections, until ``count``
    workers have answered."""
    seen = {}
    for _ in range(tries):
        answer = server.post("/api/v1.0/predictions", json={"data": {"ndarray": [[0]]}},
                             headers={"Connection": "close"})
        assert answer.status_code == 200, answer.text
        body = answer.json()["jsonData"]
        seen[body["pid"]] = (body["at_init"], body["now"])
        if len(seen) == count:
            return seen
    raise AssertionError("only %d of %d workers answered: %s" % (len(seen), count, seen))


@pytest.mark.slow
def test_each_worker_gets_its_own_devices_before_init_and_keeps_them_when_replaced(serve):
    server = serve("devices", "Devices", env={
        "GUNICORN_WORKERS": "2", "MODELKILN_GPUS_PER_WORKER": "2",
        "CUDA_VISIBLE_DEVICES": "0,1,2,3"})
    server.wait_workers(2)
    seen = answers_by_worker(server, 2)
    assert sorted(seen.values()) == [("0,1", "0,1"), ("2,3", "2,3")], seen
    for pid, (devices, _) in seen.items():
        slot = 0 if devices == "0,1" else 1
        assert "worker %d (slot %d): CUDA_VISIBLE_DEVICES=%s" % (pid, slot, devices) \
            in server.log(), server.log_tail()
    # the V2 metadata and /docs say which devices the answering worker has
    for _ in range(40):
        meta = server.get("/v2/models/Devices", headers={"Connection": "close"})
        assert meta.status_code == 200, meta.text
        params = meta.json()["parameters"]
        devices = seen[params["worker_pid"]][0]
        assert params["device"].startswith("cuda: CUDA_VISIBLE_DEVICES=%s (worker " % devices)
    page = server.get("/docs", headers={"Connection": "close"})
    assert page.status_code == 200 and "<b>device</b>" in page.text
    assert "CUDA_VISIBLE_DEVICES=" in page.text
    # the worker holding 2,3 dies: its replacement gets 2,3 again
    victim = [pid for pid, (devices, _) in seen.items() if devices == "2,3"][0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(server.workers()) == 2 and victim not in server.workers(), 60,
             "gunicorn to replace the killed worker")
    server.wait_workers(2)
    server.wait_ready()
    again = answers_by_worker(server, 2)
    assert victim not in again
    assert sorted(again.values()) == [("0,1", "0,1"), ("2,3", "2,3")], again


@pytest.mark.slow
def test_a_split_that_shares_devices_is_logged_and_without_the_setting_nothing_changes(serve):
    shared = serve("devices", "Devices", env={
        "GUNICORN_WORKERS": "3", "MODELKILN_GPUS_PER_WORKER": "1", "CUDA_VISIBLE_DEVICES": "0,1"})
    shared.wait_workers(3)
    assert sorted(v[0] for v in answers_by_worker(shared, 3).values()) == ["0", "0", "1"]
    assert "workers share devices (round robin)" in shared.log(), shared.log_tail()
    plain = serve("devices", "Devices", env={"GUNICORN_WORKERS": "2",
                                             "CUDA_VISIBLE_DEVICES": "0,1"})
    plain.wait_workers(2)
    assert set(answers_by_worker(plain, 2).values()) == {("0,1", "0,1")}
    meta = plain.get("/v2/models/Devices")
    assert meta.status_code == 200 and "parameters" not in meta.json(), meta.text
    assert "(slot " not in plain.log()
