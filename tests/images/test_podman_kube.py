"""The manifests ``modelkiln manifests`` writes run the app image as written: the Deployment
under ``podman kube play`` (Debian's podman, the image loaded from ``docker save``), read-only
root filesystem included; the Job's container, as its pods run it, under Docker.

``make test-images`` installs podman (``make podman``); without it the podman test skips and
says so. Two settings make podman work in a sandbox such as CI's, and change nothing the pod
spec says:

- ``CONTAINERS_CONF`` names a containers.conf whose ``default_ulimits`` stay within this
  process's hard limits: podman asks for RLIMIT_NOFILE 1048576 and RLIMIT_NPROC 32768 by
  default, and without CAP_SYS_RESOURCE runc cannot raise a limit ("error setting rlimits for
  ready process: operation not permitted").
- the container's http and metrics ports get a ``hostPort`` on 127.0.0.1 (a cluster reaches
  them through the Service, which podman does not implement).

Podman runs a livenessProbe as a healthcheck by ``curl`` inside the container and only from a
systemd timer; the image has no curl and CI no systemd, so the probes' requests are sent here,
from outside the pod, as a kubelet sends them.
"""

import json
import os
import resource
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import pytest
import yaml

from .conftest import REPO, modelkiln
from .test_images import template_image

# In `make test-full` (and CI when the image inputs change), not `make test`: installs podman,
# loads the app image into it and plays the Deployment.
pytestmark = pytest.mark.full

APP = REPO / "templates" / "model-template-app"
IRIS = {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}


def run(*args, timeout=300, env=None, input=None):
    result = subprocess.run([str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=timeout, env=env, input=input)
    return result.returncode, result.stdout.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    """podman's path and the environment it runs with (see the module's docstring)."""
    path = shutil.which("podman")
    if path is None:
        pytest.skip("podman is not installed: `make podman` installs Debian's podman and "
                    "catatonit")
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    limits = [min(nofile, 1 << 20), min(nproc, 16384)]
    limits = [value if value != resource.RLIM_INFINITY else 16384 for value in limits]
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]\n'
                    % (limits[0], limits[0], limits[1], limits[1]))
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    code, output = run(path, "info", env=env, timeout=120)
    if code != 0:
        pytest.skip("podman cannot run here: `podman info` failed: %s" % output[-500:])
    return path, env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body=None, timeout=5.0):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_deployment_runs_under_podman_kube_play(engine, request, tmp_path, podman):
    binary, env = podman
    tag = template_image(engine, request)
    saved = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
    code, output = run(binary, "load", env=env, input=saved.stdout.read())
    assert saved.wait() == 0 and code == 0, output[-2000:]

    name = "mk-kube-%d" % (int(time.time() * 1000) % 10 ** 8)
    code, output = modelkiln("manifests", APP, "--image", tag, "--kind", "deployment",
                             "--name", name, "-o", tmp_path / "generated.yaml")
    assert code == 0, output
    documents = list(yaml.safe_load_all((tmp_path / "generated.yaml").read_text()))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    published = {}
    for port in container["ports"]:
        if port["name"] in ("http", "metrics"):
            published[port["name"]] = port["hostPort"] = free_port()
            port["hostIP"] = "127.0.0.1"
    play = tmp_path / "play.yaml"
    play.write_text(yaml.safe_dump_all(documents, sort_keys=False))

    code, output = run(binary, "kube", "play", play, env=env)
    try:
        assert code == 0, output[-3000:]
        base = "http://127.0.0.1:%d" % published["http"]
        ctr = "%s-pod-0-%s" % (name, container["name"])

        def logs() -> str:
            return run(binary, "logs", ctr, env=env)[1][-3000:]

        # The startup probe's budget: load() must be ready within it.
        startup = container["startupProbe"]
        deadline = time.time() + startup["periodSeconds"] * startup["failureThreshold"]
        while True:
            try:
                if http("GET", base + startup["httpGet"]["path"])[0] == 200:
                    break
            except OSError:
                pass
            assert time.time() < deadline, logs()
            time.sleep(0.5)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["port"] == "http"
            status, body = http("GET", base + get["path"],
                                timeout=container[probe]["timeoutSeconds"])
            assert status == 200, (probe, body)
            assert json.loads(body)["status"] in ("ready", "alive", "ok"), (probe, body)

        status, body = http("POST", base + "/api/v1.0/predictions", IRIS)
        assert status == 200, body
        answer = json.loads(body)
        assert answer["data"]["names"] == ["setosa", "versicolor", "virginica"]
        assert abs(sum(answer["data"]["ndarray"][0]) - 1.0) < 1e-9
        status, text = http("GET", "http://127.0.0.1:%d%s" % (
            published["metrics"],
            deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]))
        assert status == 200 and "modelkiln_http_requests_total" in text

        # The pod spec's lockdown, as the container really runs.
        code, inspected = run(binary, "inspect", ctr, env=env)
        assert code == 0, inspected
        assert json.loads(inspected)[0]["HostConfig"]["ReadonlyRootfs"] is True
        code, output = run(binary, "exec", ctr, "sh", "-c",
                           "id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/1/status; "
                           "touch /tmp/written && echo tmp-writable; "
                           "touch /opt/app-root/src/x 2>&1 || true", env=env)
        assert code == 0, output
        assert output.splitlines()[0] != "0", output
        assert "CapEff:\t0000000000000000" in output and "NoNewPrivs:\t1" in output, output
        assert "Seccomp:\t2" in output, output
        assert "tmp-writable" in output and "Read-only file system" in output, output

        # SIGTERM drains and the server exits 0 within the grace period; then kube down.
        grace = pod["terminationGracePeriodSeconds"]
        code, output = run(binary, "pod", "stop", "-t", grace, "%s-pod-0" % name, env=env)
        assert code == 0, output
        code, state = run(binary, "inspect", "--format", "{{.State.ExitCode}}", ctr, env=env)
        assert state.strip().splitlines()[-1] == "0", logs()
    finally:
        code, output = run(binary, "kube", "down", play, env=env)
        run(binary, "rmi", "-f", "localhost/" + tag, env=env)
    assert code == 0, output
    assert "Pods removed" in output, output


def test_job_container_scores_its_shard_read_only(engine, request, tmp_path):
    """Each Indexed Job pod: the generated container (args, env, user, read-only root with the
    /tmp emptyDir) run as its pods run it, one container per completion index."""
    tag = template_image(engine, request)
    code, output = modelkiln("manifests", APP, "--image", tag, "--kind", "job", "--replicas",
                             "2", "-o", tmp_path / "job.yaml")
    assert code == 0, output
    job = yaml.safe_load((tmp_path / "job.yaml").read_text())
    container = job["spec"]["template"]["spec"]["containers"][0]
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    lines = [json.dumps({"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2 + i / 10.0]]}})
             for i in range(5)]
    (data / "input.jsonl").write_text("\n".join(lines) + "\n")
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "data")
    env = {e["name"]: e["value"] for e in container["env"]}
    for index in range(job["spec"]["completions"]):
        engine.containers.run(
            tag, container["args"], remove=True, user="43210", read_only=True,
            tmpfs={"/tmp": ""}, cap_drop=["ALL"], security_opt=["no-new-privileges"],
            environment=dict(env, JOB_COMPLETION_INDEX=str(index)),
            volumes={str(data): {"bind": mount, "mode": "rw"}})
    shards = [json.loads(line) for index in range(2) for line in
              (data / ("output.shard-%d-of-2.jsonl" % index)).read_text().splitlines()]
    assert len(shards) == 5
    assert all(s["data"]["names"] == ["setosa", "versicolor", "virginica"] for s in shards)
