"""Start, probe and stop the two servers of a differential pair.

The oracle is seldon-core 1.18's ``seldon-core-microservice`` from its own virtualenv
(``MODELKILN_SELDON_VENV``, default ``<repo>/.venv-seldon``, made by ``make seldon-venv``).
The candidate is ``python -m python_runtime`` run by this interpreter, or a second seldon
when ``MODELKILN_COMPAT_CANDIDATE=seldon`` (a self-check of the harness: seldon against
itself must show no differences).
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import requests

from .cases import Deployment

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = Path(__file__).resolve().parent / "models"

SELDON_VENV_ENV = "MODELKILN_SELDON_VENV"
CANDIDATE_ENV = "MODELKILN_COMPAT_CANDIDATE"
START_TIMEOUT_ENV = "MODELKILN_COMPAT_START_TIMEOUT"

# Variables either server reads; cleared so the caller's shell cannot leak into a run.
_SERVER_ENV_PREFIXES = (
    "PREDICTIVE_UNIT_", "SELDON_", "GUNICORN_", "FLASK_", "GRPC_", "MODEL_", "PAYLOAD_",
    "PREDICTOR_", "TRACING", "JAEGER_", "INCLUDE_METRICS", "FILTER_METRICS", "MODELKILN_",
    "PYTHONPATH", "PYTHONHOME", "SERVICE_TYPE", "API_TYPE", "PERSISTENCE",
)


class OracleMissing(RuntimeError):
    pass


class ServerFailed(RuntimeError):
    pass


def seldon_venv() -> Path:
    return Path(os.environ.get(SELDON_VENV_ENV) or REPO_ROOT / ".venv-seldon")


def seldon_executable() -> Path:
    """The oracle's CLI; raises OracleMissing (with the fix) when it is absent."""
    venv = seldon_venv()
    exe = venv / "bin" / "seldon-core-microservice"
    if not exe.exists():
        raise OracleMissing(
            "seldon-core oracle not found: %s does not exist. Run `make seldon-venv` in %s "
            "(or point %s at a virtualenv holding seldon-core==1.18.*)."
            % (exe, REPO_ROOT, SELDON_VENV_ENV)
        )
    return exe


def chosen_candidate(variable: str, choices: Tuple[str, ...]) -> str:
    """What a suite compares with its oracle: ``modelkiln``, unless ``variable`` names another
    of ``choices`` (the oracle's own name: the self-check)."""
    kind = os.environ.get(variable, "modelkiln").strip().lower()
    if kind not in choices:
        raise ValueError("%s must be one of %s, not %r" % (variable, choices, kind))
    return kind


def candidate_kind() -> str:
    return chosen_candidate(CANDIDATE_ENV, ("modelkiln", "seldon"))


_HANDED_OUT: Set[int] = set()


def free_ports(count: int) -> List[int]:
    """``count`` free ports never handed out before in this test process (a gRPC port is bound
    with SO_REUSEPORT: two servers given the same one would both start and split its calls).
    Every socket stays bound until all are picked."""
    while True:
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
        try:
            for sock in sockets:
                sock.bind(("127.0.0.1", 0))
            ports = [sock.getsockname()[1] for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()
        if not _HANDED_OUT.intersection(ports):
            _HANDED_OUT.update(ports)
            return ports


def _base_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SERVER_ENV_PREFIXES)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep models/ free of __pycache__
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Server:
    """One server process (and its process group) plus where to reach it."""

    def __init__(self, label: str, argv: List[str], env: Dict[str, str], ready_path: str,
                 http_port: int, log_dir: Path):
        self.label = label
        self.argv = argv
        self.env = env
        self.ready_path = ready_path
        self.base_url = "http://127.0.0.1:%d" % http_port
        self.log_path = log_dir / (label.replace("/", "_") + ".log")
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=str(MODELS_DIR), env=self.env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            log.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, deadline: float) -> None:
        url = self.base_url + self.ready_path
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise ServerFailed("%s exited (code %s) before it was ready.\n$ %s\n--- log tail ---\n%s"
                                   % (self.label, code, " ".join(self.argv), self.log_tail()))
            try:
                r = requests.get(url, timeout=2)
                if r.status_code == 200:
                    return
                last = "HTTP %d %s" % (r.status_code, r.text[:200])
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.2)
        raise ServerFailed("%s not ready at %s (last: %s).\n$ %s\n--- log tail ---\n%s"
                           % (self.label, url, last, " ".join(self.argv), self.log_tail()))

    def stop(self) -> None:
        self.terminate()
        self.reap(time.monotonic() + 10)

    def terminate(self) -> None:
        """SIGTERM the process group (created by start_new_session), without waiting."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def reap(self, deadline: float) -> None:
        """Wait for the process until ``deadline``, then SIGKILL its group."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers (workers, metrics, gRPC processes)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def seldon_server(dep: Deployment, label: str, log_dir: Path) -> Server:
    http, metrics, grpc = free_ports(3)
    # seldon 1.18 has no OUTPUT_TRANSFORMER choice; it ignores the type anyway.
    service_type = "TRANSFORMER" if dep.service_type == "OUTPUT_TRANSFORMER" else dep.service_type
    argv = [str(seldon_executable()), dep.model, "--service-type", service_type,
            "--http-port", str(http), "--metrics-port", str(metrics), "--grpc-port", str(grpc),
            "--grpc-workers", "0", "--workers", "1"]
    env = _base_env()
    env.update(dep.env)
    env.setdefault("SELDON_LOG_LEVEL", "WARNING")
    return Server(label, argv, env, "/health/ping", http, log_dir)


def modelkiln_server(dep: Deployment, label: str, log_dir: Path) -> Server:
    http, metrics, grpc = free_ports(3)
    argv = [sys.executable, "-m", "python_runtime", dep.model, "--service-type", dep.service_type,
            "--http-port", str(http), "--metrics-port", str(metrics), "--grpc-port", str(grpc),
            "--workers", "1"]
    env = _base_env()
    env.update(dep.env)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return Server(label, argv, env, "/ready", http, log_dir)


def open_pool(pool_class: type, oracle_executable: Any, log_dir: Path) -> "ServerPool":
    """A session's pool; a missing oracle fails loudly, never skips (CI would pass with zero
    comparisons)."""
    import pytest

    missing = None
    try:
        oracle_executable()
    except OracleMissing as exc:
        missing = str(exc)
    if missing:
        pytest.fail(missing, pytrace=False)
    return pool_class(log_dir=log_dir)  # (each pool class takes its own suite's candidate)


def started_or_fail(start: Any, dep: Deployment) -> Any:
    """``start(dep)`` (a pool's ``urls`` or ``channels``), or the test fails (never skips)
    saying the servers did not start."""
    import pytest

    failure = None
    try:
        return start(dep)
    except ServerFailed as exc:
        failure = "servers for deployment %r did not start:\n%s" % (dep.name, exc)
    pytest.fail(failure, pytrace=False)


class ServerPool:
    """Lazily starts one (oracle, candidate) pair per deployment; keeps the last few alive.

    Tests are ordered by deployment, so each pair normally starts once. A pair that failed
    to start is remembered and the failure re-raised for its other cases without a retry.
    """

    # A suite against another oracle overrides these (its log folder's prefix, the variable
    # of its start timeout, its candidate_kind) besides oracle_name and the two servers below.
    log_prefix = "modelkiln-compat-"
    start_timeout_env = START_TIMEOUT_ENV
    default_candidate = staticmethod(candidate_kind)

    def __init__(self, log_dir: Optional[Path] = None, keep: int = 2,
                 candidate: Optional[str] = None, with_candidate: bool = True):
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix=self.log_prefix))
        self.keep = keep
        self.candidate = candidate or self.default_candidate()
        self.with_candidate = with_candidate
        self.timeout = float(os.environ.get(self.start_timeout_env, "60"))
        self._live: "OrderedDict[str, Tuple[Server, Optional[Server]]]" = OrderedDict()
        self._failed: Dict[str, BaseException] = {}

    def urls(self, dep: Deployment) -> Tuple[str, Optional[str]]:
        """(oracle base URL, candidate base URL or None)."""
        if dep.name in self._failed:
            raise self._failed[dep.name]
        if dep.name in self._live:
            self._live.move_to_end(dep.name)
        else:
            try:
                self._live[dep.name] = self._start(dep)
            except (ServerFailed, OracleMissing) as exc:
                self._failed[dep.name] = exc
                raise
            while len(self._live) > self.keep:
                _, pair = self._live.popitem(last=False)
                self._stop_pair(pair)
        oracle, cand = self._live[dep.name]
        return oracle.base_url, (cand.base_url if cand else None)

    # The oracle's name (a candidate of that name is a second oracle: the self-check) and how
    # each side starts; a suite against another oracle overrides these three.
    oracle_name = "seldon"

    def oracle_server(self, dep: Deployment, label: str) -> Server:
        return seldon_server(dep, label, self.log_dir)

    def modelkiln_server(self, dep: Deployment, label: str) -> Server:
        return modelkiln_server(dep, label, self.log_dir)

    def _start(self, dep: Deployment) -> Tuple[Server, Optional[Server]]:
        oracle = self.oracle_server(dep, "%s-%s" % (self.oracle_name, dep.name))
        cand = None
        if self.with_candidate:
            make = (self.oracle_server if self.candidate == self.oracle_name
                    else self.modelkiln_server)
            cand = make(dep, "%s-%s" % (self.candidate, dep.name))
        servers = [s for s in (oracle, cand) if s]
        for s in servers:
            s.start()
        try:
            deadline = time.monotonic() + self.timeout
            for s in servers:
                s.wait_ready(deadline)
        except BaseException:
            for s in servers:
                s.stop()
            raise
        return oracle, cand

    @staticmethod
    def _stop_pair(pair) -> None:
        for s in pair:
            if s is not None:
                s.stop()

    def close(self) -> None:
        while self._live:
            _, pair = self._live.popitem()
            self._stop_pair(pair)
