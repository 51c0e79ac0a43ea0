"""The two servers of the suite: tritonserver (nvidia-pytriton's, laid out by ``make
triton-venv`` in .build/tritonserver) on the repository ``models/``, and one modelkiln server
per model folder of it (modelkiln serves one model), run from the repository's .venv."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import requests

from tests.python_runtime.live import LiveServer, free_port, stop_process_group

REPO = Path(__file__).resolve().parents[2]
MODELS = Path(__file__).resolve().parent / "models"
MODEL_NAMES = ("scale", "text", "auto", "nobatch", "words")
TRITON_HOME = REPO / ".build" / "tritonserver"
MODELKILN_PYTHON = REPO / ".venv" / "bin" / "python"
START_TIMEOUT = float(os.environ.get("MODELKILN_TRITON_START_TIMEOUT", "120"))


def site_packages() -> Path:
    return Path(next(p for p in sys.path if p.endswith("site-packages")))


class Tritonserver(object):
    """``tritonserver --model-repository DIR`` on free ports, CPU only, in its own group."""

    def __init__(self, repository: Path = MODELS) -> None:
        self.repository = repository
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="tritonserver-", suffix=".log",
                                               delete=False)
        self.proc = None  # type: object

    def command(self) -> List[str]:
        return [str(TRITON_HOME / "bin" / "tritonserver"),
                "--model-repository", str(self.repository),
                "--backend-directory", str(TRITON_HOME / "backends"),
                "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
                "--metrics-port", str(self.metrics_port), "--allow-gpu-metrics", "false",
                "--exit-timeout-secs", "5"]

    def environment(self) -> Dict[str, str]:
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = str(site_packages() / "nvidia_pytriton.libs")
        # the Python backend's stub runs model.py with the Python (and numpy) on PATH
        env["PATH"] = "%s:%s" % (Path(sys.executable).parent, env.get("PATH", ""))
        return env

    def start(self) -> "Tritonserver":
        if not (TRITON_HOME / "bin" / "tritonserver").is_file():
            raise RuntimeError("no tritonserver in %s: run make triton-venv" % TRITON_HOME)
        self.proc = subprocess.Popen(self.command(), env=self.environment(), stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tritonserver exited with %s:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                if requests.get(self.url("/v2/health/ready"), timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError("tritonserver not ready after %.0f s:\n%s"
                           % (START_TIMEOUT, self.log_tail()))

    def url(self, path: str) -> str:
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    @property
    def grpc_url(self) -> str:
        return "127.0.0.1:%d" % self.grpc_port

    def log_tail(self, chars: int = 6000) -> str:
        return Path(self.log.name).read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, 15)


class Modelkiln(LiveServer):
    """modelkiln serving one model folder, with the repository's runtime virtualenv."""

    @property
    def command(self) -> List[str]:
        return [str(MODELKILN_PYTHON)] + super(Modelkiln, self).command[1:]

    @property
    def grpc_url(self) -> str:
        return "127.0.0.1:%d" % self.grpc_port


def start_modelkiln(name: str, env: Dict[str, str] = None) -> Modelkiln:
    server = Modelkiln(str(MODELS / name), env=env).start()
    server.wait_ready()
    return server
