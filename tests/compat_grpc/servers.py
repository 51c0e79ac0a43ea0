"""Server pairs with gRPC on: seldon-core 1.18 (the oracle) and modelkiln.

Reuses ``tests.compat.servers`` (process handling, environment scrubbing, oracle lookup).
Differences from the REST suite's pool:

- seldon runs with ``--grpc-workers 1`` (the REST suite turns its gRPC off);
- modelkiln runs under ``MODELKILN_PYTHON`` (default ``<repo>/.venv/bin/python``), because
  this suite runs under the oracle's interpreter (it uses seldon-core's stubs);
- a server is ready when its REST readiness route answers *and* its gRPC port accepts
  connections (seldon binds gRPC after the model's ``load()``, modelkiln after its worker's);
- pairs start ahead of use (``ahead`` deployments beyond the current one, in test order) and
  are stopped without waiting as soon as the tests have moved past them, so start-up and
  shutdown overlap with the calls.
"""

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import grpc

from ..compat.cases import Deployment
from ..compat.servers import (REPO_ROOT, START_TIMEOUT_ENV, OracleMissing, Server, ServerFailed,
                              _base_env, free_ports, seldon_executable)
from .cases import models_dir_name

TESTS_DIR = Path(__file__).resolve().parents[1]
MODELKILN_PYTHON_ENV = "MODELKILN_PYTHON"


def modelkiln_python() -> Path:
    exe = Path(os.environ.get(MODELKILN_PYTHON_ENV) or REPO_ROOT / ".venv" / "bin" / "python")
    if not exe.exists():
        raise OracleMissing("modelkiln's interpreter not found: %s does not exist. Run `make venv` "
                            "in %s (or point %s at a Python with modelkiln installed)."
                            % (exe, REPO_ROOT, MODELKILN_PYTHON_ENV))
    return exe


class GrpcServer(Server):
    """A ``tests.compat.servers.Server`` that also serves gRPC on ``grpc_port``."""

    def __init__(self, label: str, argv: List[str], env: Dict[str, str], ready_path: str,
                 http_port: int, grpc_port: int, log_dir: Path, cwd: Path):
        super().__init__(label, argv, env, ready_path, http_port, log_dir)
        self.grpc_port = grpc_port
        self.cwd = cwd
        self.channel: Optional[grpc.Channel] = None

    def start(self) -> None:
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=str(self.cwd), env=self.env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()

    def wait_ready(self, deadline: float) -> None:
        super().wait_ready(deadline)  # REST readiness: the model is loaded
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise ServerFailed("%s exited before its gRPC port opened.\n--- log tail ---\n%s"
                                   % (self.label, self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.grpc_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ServerFailed("%s: gRPC port %d never opened.\n$ %s\n--- log tail ---\n%s"
                                       % (self.label, self.grpc_port, " ".join(self.argv),
                                          self.log_tail()))
                time.sleep(0.05)
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.grpc_port)

    def terminate(self) -> None:
        """Close the channel, then SIGTERM the process group without waiting (``reap``
        waits)."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        super().terminate()


def seldon_server(dep: Deployment, label: str, log_dir: Path) -> GrpcServer:
    http, metrics, grpc_port = free_ports(3)
    # seldon 1.18 has no OUTPUT_TRANSFORMER choice; it ignores the type anyway.
    service_type = "TRANSFORMER" if dep.service_type == "OUTPUT_TRANSFORMER" else dep.service_type
    argv = [str(seldon_executable()), dep.model, "--service-type", service_type,
            "--http-port", str(http), "--metrics-port", str(metrics),
            "--grpc-port", str(grpc_port), "--grpc-workers", "1", "--workers", "1"]
    env = _base_env()
    env.update(dep.env)
    env.setdefault("SELDON_LOG_LEVEL", "WARNING")
    return GrpcServer(label, argv, env, "/health/ping", http, grpc_port, log_dir,
                      TESTS_DIR / models_dir_name(dep) / "models")


def modelkiln_server(dep: Deployment, label: str, log_dir: Path) -> GrpcServer:
    http, metrics, grpc_port = free_ports(3)
    argv = [str(modelkiln_python()), "-m", "python_runtime", dep.model,
            "--service-type", dep.service_type, "--http-port", str(http),
            "--metrics-port", str(metrics), "--grpc-port", str(grpc_port), "--workers", "1"]
    env = _base_env()
    env.update(dep.env)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return GrpcServer(label, argv, env, "/ready", http, grpc_port, log_dir,
                      TESTS_DIR / models_dir_name(dep) / "models")


class GrpcServerPool:
    """(oracle, candidate) per deployment, started ``ahead`` deployments before their turn.

    ``order`` is the deployments in the order the tests use them. A pair that failed to
    start is remembered and its failure re-raised for its other cases.
    """

    def __init__(self, order: List[Deployment], log_dir: Path, candidate: str = "modelkiln",
                 ahead: int = 2):
        self.order = list(order)
        self.position = {d.name: i for i, d in enumerate(self.order)}
        self.log_dir = Path(log_dir)
        self.candidate = candidate
        self.ahead = ahead
        self.timeout = float(os.environ.get(START_TIMEOUT_ENV, "60"))
        self._started: Dict[str, Tuple[float, GrpcServer, GrpcServer]] = {}
        self._ready: Dict[str, Tuple[GrpcServer, GrpcServer]] = {}
        self._failed: Dict[str, BaseException] = {}
        self._stopped: List[GrpcServer] = []

    def _launch(self, dep: Deployment) -> None:
        if dep.name in self._started or dep.name in self._failed:
            return
        try:
            oracle = seldon_server(dep, "seldon-" + dep.name, self.log_dir)
            make = seldon_server if self.candidate == "seldon" else modelkiln_server
            cand = make(dep, "%s-%s" % (self.candidate, dep.name), self.log_dir)
        except OracleMissing as exc:
            self._failed[dep.name] = exc
            return
        oracle.start()
        cand.start()
        self._started[dep.name] = (time.monotonic(), oracle, cand)

    def channels(self, dep: Deployment) -> Tuple[grpc.Channel, grpc.Channel]:
        """(oracle channel, candidate channel) for ``dep``, once both servers are ready."""
        index = self.position[dep.name]
        for done in self.order[:index]:  # the tests have moved past these
            self._stop(done.name)
        for nxt in self.order[index:index + 1 + self.ahead]:
            self._launch(nxt)
        if dep.name in self._failed:
            raise self._failed[dep.name]
        if dep.name not in self._ready:
            started, oracle, cand = self._started[dep.name]
            try:
                deadline = started + self.timeout
                oracle.wait_ready(deadline)
                cand.wait_ready(deadline)
            except ServerFailed as exc:
                self._failed[dep.name] = exc
                self._stop(dep.name)
                raise
            self._ready[dep.name] = (oracle, cand)
        oracle, cand = self._ready[dep.name]
        return oracle.channel, cand.channel

    def _stop(self, name: str) -> None:
        entry = self._started.pop(name, None)
        self._ready.pop(name, None)
        if entry is not None:
            for server in entry[1:]:
                server.terminate()
                self._stopped.append(server)

    def close(self) -> None:
        for name in list(self._started):
            self._stop(name)
        deadline = time.monotonic() + 10
        for server in self._stopped:
            server.reap(deadline)
        self._stopped = []
