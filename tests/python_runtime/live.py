"""Helpers for tests that start the real microservice (``python -m python_runtime``).

A ``LiveServer`` runs in its own process group with its output in files, so a test can read
the log and teardown can always kill every process it started (master and workers).
Waiting is generous (a loaded 2-core CI machine); nothing here asserts on speed.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"

READY_TIMEOUT = float(os.environ.get("MODELKILN_TEST_READY_TIMEOUT", "60"))
REQUEST_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

# Variables the server reads; cleared so the caller's shell cannot leak into a run.
_SERVER_ENV_PREFIXES = (
    "PREDICTIVE_UNIT_", "SELDON_", "GUNICORN_", "FLASK_", "MODEL_", "PAYLOAD_", "PREDICTOR_",
    "MODELKILN_", "SERVICE_TYPE", "API_TYPE", "PERSISTENCE", "LOG_LEVEL",
    "PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir", "PYTHONPATH",
)
_KEEP = ("MODELKILN_TEST_READY_TIMEOUT",)

ERROR_KEYS = {"status", "info", "code", "reason"}


_HANDED_OUT: Set[int] = set()


def free_port() -> int:
    """A free port never handed out before in this test process. The servers bind gRPC with
    SO_REUSEPORT, so two of them given the same port would both start and split its calls."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def server_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k in _KEEP or not k.startswith(_SERVER_ENV_PREFIXES)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep apps/ free of __pycache__
    env["PYTHONUNBUFFERED"] = "1"
    # The runtime is imported from this checkout whatever is installed.
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra or {})
    return env


def parameters(**kwargs: Any) -> str:
    """PREDICTIVE_UNIT_PARAMETERS JSON for keyword arguments (str, int, float, bool)."""
    items = []
    for name, value in kwargs.items():
        if isinstance(value, bool):
            items.append({"name": name, "value": str(value).lower(), "type": "BOOL"})
        elif isinstance(value, int):
            items.append({"name": name, "value": str(value), "type": "INT"})
        elif isinstance(value, float):
            items.append({"name": name, "value": repr(value), "type": "FLOAT"})
        else:
            items.append({"name": name, "value": str(value), "type": "STRING"})
    return json.dumps(items)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def children(pid: int) -> List[int]:
    """Pids whose parent is ``pid`` (read from /proc, no psutil)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "r") as handle:
                stat = handle.read()
        except (IOError, OSError):
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def _caught_signals(pid: int) -> int:
    with open("/proc/%d/status" % pid, "r") as handle:
        for line in handle:
            if line.startswith("SigCgt:"):
                return int(line.split()[1], 16)
    return 0


def worker_initialised(pid: int) -> bool:
    """True once a forked gunicorn worker has installed its own signal handlers.

    Until then it still has the master's (SIGCHLD caught, SIGABRT not) and a SIGTERM sent to
    it is swallowed, so a signal test must wait for this first.
    """
    try:
        caught = _caught_signals(pid)
    except (IOError, OSError):
        return False
    return not caught & (1 << (signal.SIGCHLD - 1)) and bool(caught & (1 << (signal.SIGABRT - 1)))


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(proc: "subprocess.Popen", grace: float) -> None:
    """SIGTERM a server's whole process group, SIGKILL after ``grace`` seconds, until neither
    the leader nor an orphaned child of it is left."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + 5
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _group_alive(proc.pid):
            break
    if proc.poll() is None:
        proc.wait(10)


class LiveServer(object):
    """One ``python -m python_runtime`` process (gunicorn master, or the debug server)."""

    def __init__(self, app: str, model_name: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None, args: Sequence[str] = (),
                 workdir: Optional[str] = None) -> None:
        self.app_dir = APPS / app
        self.model_name = model_name
        self.http_port = free_port()
        self.metrics_port, self.grpc_port = free_port(), free_port()
        while len({self.http_port, self.metrics_port, self.grpc_port}) < 3:
            self.metrics_port, self.grpc_port = free_port(), free_port()
        self.env = server_env(env)
        self.args = list(args)
        self.tmp = tempfile.mkdtemp(prefix="modelkiln-live-", dir=workdir)
        self.stdout_path = os.path.join(self.tmp, "stdout.log")
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.proc = None  # type: Optional[subprocess.Popen]
        self.session = requests.Session()

    # -- process ------------------------------------------------------------------------

    @property
    def command(self) -> List[str]:
        cmd = [sys.executable, "-m", "python_runtime"]
        if self.model_name:
            cmd.append(self.model_name)
        cmd += ["--http-port", str(self.http_port), "--metrics-port", str(self.metrics_port),
                "--grpc-port", str(self.grpc_port)]
        return cmd + self.args

    def start(self) -> "LiveServer":
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.command, cwd=str(self.app_dir), env=self.env, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def workers(self) -> List[int]:
        return children(self.pid)

    def wait_workers(self, count: int, timeout: float = READY_TIMEOUT) -> List[int]:
        """Wait for ``count`` gunicorn workers that have finished booting; their pids."""
        def booted() -> Any:
            pids = self.workers()
            return len(pids) == count and all(worker_initialised(p) for p in pids) and pids

        return wait_for(booted, timeout, "%d booted workers" % count)

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("server still running after %.0f s\n%s"
                                 % (timeout, self.log_tail()))

    def stop(self) -> None:
        """Kill the whole process group (master and workers); safe to call twice."""
        self.session.close()  # no idle keep-alive connection left behind
        if self.proc is None:
            return
        if self.alive():
            # A worker still booting swallows SIGTERM (gunicorn's race); let it finish first.
            try:
                wait_for(lambda: all(worker_initialised(p) for p in self.workers()), 10,
                         "workers to boot")
            except AssertionError:
                pass
        stop_process_group(self.proc, STOP_TIMEOUT)

    # -- logs -----------------------------------------------------------------------------

    def stdout(self) -> str:
        return Path(self.stdout_path).read_text(errors="replace")

    def stderr(self) -> str:
        return Path(self.stderr_path).read_text(errors="replace")

    def log(self) -> str:
        return self.stdout() + self.stderr()

    def log_size(self) -> int:
        return len(self.log())

    def log_tail(self, chars: int = 4000) -> str:
        return "--- server stdout ---\n%s\n--- server stderr ---\n%s" % (
            self.stdout()[-chars:], self.stderr()[-chars:])

    # -- HTTP -----------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def metrics_url(self, path: str = "/metrics") -> str:
        return "http://127.0.0.1:%d%s" % (self.metrics_port, path)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return requests.get(self.url(path), **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return requests.post(self.url(path), **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return requests.request(method, self.url(path), **kwargs)

    def scrape(self, path: str = "/metrics") -> str:
        answer = requests.get(self.metrics_url(path), timeout=REQUEST_TIMEOUT)
        assert answer.status_code == 200, answer.text
        return answer.text

    def _probe(self, path: str, status: int) -> bool:
        if not self.alive():
            raise AssertionError("server exited with %s before %s answered %d\n%s"
                                 % (self.proc.returncode, path, status, self.log_tail()))
        try:
            return requests.get(self.url(path), timeout=5).status_code == status
        except requests.RequestException:
            return False

    def wait_status(self, path: str, status: int = 200, timeout: float = READY_TIMEOUT
                    ) -> None:
        try:
            wait_for(lambda: self._probe(path, status), timeout, "%s -> %d" % (path, status))
        except AssertionError as exc:
            raise AssertionError("%s\n%s" % (exc, self.log_tail()))

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> "LiveServer":
        self.wait_status("/ready", 200, timeout)
        return self

    def wait_live(self, timeout: float = READY_TIMEOUT) -> "LiveServer":
        self.wait_status("/live", 200, timeout)
        return self

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def read_until_closed(sock: "socket.socket") -> bytes:
    """Everything the server sends on ``sock`` until it closes the connection."""
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


def assert_error_body(answer: requests.Response, status: int,
                      reason: Optional[str] = None, info_contains: Sequence[str] = ()) -> Dict:
    """The answer has ``status`` and Seldon's error body; returns the ``status`` object."""
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers.get("Content-Type", "").startswith("application/json"), answer.headers
    body = answer.json()
    assert isinstance(body, dict) and set(body) == {"status"}, body
    inner = body["status"]
    assert set(inner) == ERROR_KEYS, inner
    assert inner["status"] == 1, inner
    assert isinstance(inner["info"], str) and inner["info"], inner
    assert isinstance(inner["code"], int) and not isinstance(inner["code"], bool), inner
    assert isinstance(inner["reason"], str) and inner["reason"], inner
    if reason is not None:
        assert inner["reason"] == reason, inner
    for text in info_contains:
        assert text in inner["info"], (text, inner["info"])
    return inner


def prometheus_samples(text: str) -> List[Any]:
    """Every sample (name, labels, value) in a Prometheus text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    samples = []
    for family in text_string_to_metric_families(text):
        samples.extend(family.samples)
    return samples


def metric_values(text: str, name: str, **labels: str) -> List[float]:
    """Values of the samples called ``name`` whose labels include ``labels``."""
    return [s.value for s in prometheus_samples(text)
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def metric_sum(text: str, name: str, **labels: str) -> float:
    return sum(metric_values(text, name, **labels))


@contextmanager
def running(app: str, model_name: Optional[str] = None, env: Optional[Dict[str, str]] = None,
            workdir: Optional[str] = None) -> Iterator[LiveServer]:
    """A ready server for a with-block (module-scoped fixtures), stopped after it."""
    server = LiveServer(app, model_name, env=env, workdir=workdir)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
