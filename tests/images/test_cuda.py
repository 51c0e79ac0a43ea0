"""The CUDA builders on a machine without a GPU (``make test-images-cuda``, part of ``make
test-full``): modelkiln/python311-cuda (CUDA 12.8 from NVIDIA's wheels) and
modelkiln/python38-cuda (on its stand-in here: modelkiln/python38-cuda:py39-standin).
MODELKILN_CUDA_BUILDERS names the images to test.

What is checked without a GPU: the CUDA runtime and cuDNN in each builder load and report their
versions (the GPU doctor calls cudaRuntimeGetVersion and cudnnGetVersion, which need no
driver); an app that installs PyPI's CUDA build of PyTorch builds, imports it, serves on the
CPU and says so in its log; each worker gets its CUDA_VISIBLE_DEVICES slice (fake device
lists). What needs a GPU (kernels running, a device per worker that CUDA really opens) is
bench/gpu.py's job on a GPU machine.
"""

import json
import os
import time

import pytest
import requests

from .conftest import CA_BUNDLE, PREFIX, REPO, modelkiln

pytestmark = pytest.mark.cuda

BUILDERS = os.environ.get("MODELKILN_CUDA_BUILDERS", "modelkiln/python311-cuda").split()
APP = REPO / "test_apps" / "cuda-torch"
# What each builder carries: (CUDA runtime, cuDNN) versions as the libraries report them, and
# the CUDA version PyPI's torch for its Python was built with.
EXPECTED = {"python311-cuda": ("12.8", "9.10.2", "12.8"),
            "python38-cuda": ("11.8", "8.9.6", "11.7")}


def expected(builder):
    return EXPECTED[builder.split("/")[-1].split(":")[0]]


@pytest.fixture(scope="module")
def client():
    import docker

    engine = docker.from_env(version="auto")
    for builder in BUILDERS:
        try:
            engine.images.get(builder)
        except Exception:
            pytest.fail("builder image %s is missing: run `make image-py311-cuda "
                        "image-py38-cuda`" % builder, pytrace=False)
    return engine


def doctor(client, image, *args):
    """(exit status, findings) of ``docker run IMAGE doctor --json``."""
    container = client.containers.run(image, ["doctor", "--json"] + list(args), detach=True)
    try:
        status = container.wait(timeout=300)["StatusCode"]
        output = container.logs(stdout=True, stderr=False).decode()
    finally:
        container.remove(force=True)
    findings = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return status, findings


@pytest.mark.parametrize("builder", BUILDERS)
def test_the_builders_cuda_libraries_load_and_report_their_versions(client, builder):
    cuda, cudnn, _ = expected(builder)
    status, findings = doctor(client, builder)
    assert status == 0, findings
    by_topic = {}
    for finding in findings:
        by_topic.setdefault(finding["topic"], []).append(finding)
    assert by_topic["driver"][0]["level"] == "info", findings   # no GPU on this machine
    runtime = by_topic["cuda"][0]
    assert runtime["level"] == "ok" and runtime["text"].startswith("CUDA runtime %s" % cuda), \
        findings
    assert by_topic["cuda"][1]["text"].startswith("cudaGetDeviceCount: 0 ("), findings
    assert by_topic["cudnn"][0]["level"] == "ok", findings
    assert by_topic["cudnn"][0]["text"].startswith("cuDNN %s (" % cudnn), findings
    # the same through `modelkiln doctor --image` (the CLI runs the image's own doctor)
    code, output = modelkiln("doctor", "--image", builder, "--json", timeout=300)
    assert code == 0, output
    assert [json.loads(line) for line in output.splitlines() if line.startswith("{")] \
        == findings


@pytest.fixture(scope="module", params=BUILDERS)
def app_image(request, client):
    builder = request.param
    tag = "%scuda-torch-%s:ci" % (PREFIX, builder.split("/")[-1].replace(":", "-"))
    code, output = modelkiln("build", APP, builder, tag, "--ca-bundle", CA_BUNDLE, timeout=3600)
    assert code == 0, output[-5000:]
    return builder, tag, output


def wait_ready(container, base, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        container.reload()
        assert container.status in ("created", "running"), container.logs()[-3000:]
        try:
            if requests.get(base + "/ready", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError("not ready in %d s:\n%s" % (timeout, container.logs()[-3000:]))


def test_a_cuda_pytorch_app_builds_serves_on_the_cpu_and_says_so(client, app_image):
    builder, tag, build_output = app_image
    _, _, torch_cuda = expected(builder)
    if builder.startswith("modelkiln/python311-cuda"):   # the builder's wheels were reused
        assert "Requirement already satisfied: nvidia-cudnn-cu12==9.10.2.21" in build_output, \
            build_output[-5000:]
    code, output = modelkiln("test-image", tag, "--app", APP, timeout=900)
    assert code == 0 and "PASS SIGTERM" in output, output[-5000:]
    container = client.containers.run(tag, detach=True, ports={"9000/tcp": ("127.0.0.1", None)},
                                      user="54321")
    try:
        container.reload()
        base = "http://127.0.0.1:%s" % container.ports["9000/tcp"][0]["HostPort"]
        wait_ready(container, base)
        answer = requests.post(base + "/api/v1.0/predictions",
                               json={"data": {"ndarray": [[4.0, 1.0]]}}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["ndarray"] == [[7.5]]
        assert answer.json()["meta"]["tags"] == {"device": "cpu"}
        logs = container.logs().decode()
    finally:
        container.remove(force=True)
    assert "(CUDA build %s) on cpu" % torch_cuda in logs, logs[-3000:]
    assert "gpu doctor: torch: PyTorch" in logs and \
        "is built for CUDA %s, but no GPU is visible: models run on the CPU" % torch_cuda \
        in logs, logs[-3000:]
    assert "gpu doctor: GPU frameworks on a node without a GPU" in logs, logs[-3000:]
    assert logs.count("gpu doctor: torch:") == 1, logs[-3000:]     # logged once, not per worker
    status, findings = doctor(client, tag)
    torch_findings = [f for f in findings if f["topic"] == "torch"]
    assert status == 0 and len(torch_findings) == 1, findings
    assert torch_findings[0]["level"] == "warning", findings


def test_each_worker_gets_its_own_device_slice_in_the_image(client, app_image):
    _, tag, _ = app_image
    container = client.containers.run(
        tag, detach=True, ports={"9000/tcp": ("127.0.0.1", None)},
        environment={"GUNICORN_WORKERS": "2", "MODELKILN_GPUS_PER_WORKER": "1",
                     "CUDA_VISIBLE_DEVICES": "0,1"})
    try:
        container.reload()
        base = "http://127.0.0.1:%s" % container.ports["9000/tcp"][0]["HostPort"]
        wait_ready(container, base)
        devices = {}
        for _ in range(300):
            meta = requests.get(base + "/v2/models/CudaTorch", headers={"Connection": "close"},
                                timeout=30)
            assert meta.status_code == 200, meta.text
            params = meta.json()["parameters"]
            devices[params["worker_pid"]] = params["device"]
            if len(devices) == 2:
                break
        assert sorted(devices.values()) == ["cuda: CUDA_VISIBLE_DEVICES=0 (worker 0)",
                                            "cuda: CUDA_VISIBLE_DEVICES=1 (worker 1)"], devices
        answer = requests.post(base + "/api/v1.0/predictions",
                               json={"data": {"ndarray": [[1.0, 2.0]]}}, timeout=30)
        assert answer.status_code == 200 and answer.json()["data"]["ndarray"] == [[0.5]]
        logs = container.logs().decode()
    finally:
        container.remove(force=True)
    assert logs.count("gpu doctor: torch:") == 1, logs[-3000:]     # the first worker's only
    for pid, device in devices.items():
        slot = device[-2]
        assert "worker %d (slot %s): CUDA_VISIBLE_DEVICES=%s" % (pid, slot, slot) in logs, \
            logs[-3000:]


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_slim_build_on_a_cuda_builder_is_refused_with_the_reason(builder, tmp_path):
    code, output = modelkiln("build", APP, builder, "%sslim-refused:ci" % PREFIX, "--slim",
                             timeout=600)
    assert code != 0, output[-3000:]
    assert "names no runtime image" in output and "build without --slim" in output, \
        output[-3000:]
