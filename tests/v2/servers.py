"""The servers the V2 tests talk to: modelkiln (from ``.venv``) and MLServer 1.7.1 (this venv).

Both run as subprocesses in their own process group, with their output in files; every
process started here is stopped by its process group id at teardown.

- ``ModelkilnServer``: ``tests.python_runtime.live.LiveServer`` run with the modelkiln
  virtualenv's Python (``MODELKILN_V2_SERVER_PYTHON``, default ``.venv/bin/python``) on a class
  of ``tests/v2/models``.
- ``Fleet``: the modelkiln servers of a test session, each started once on first use and
  shared by every module (several are started at once, then waited for together).
- ``MLServer``: ``mlserver start`` on a temporary repository whose models are the same
  classes of ``tests/v2/models``, served by ``tests/v2/mlserver/seldon_runtime.py``.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

import requests

from tests.python_runtime.live import (READY_TIMEOUT, REPO_ROOT, LiveServer, free_port,
                                       stop_process_group, wait_for)

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
RUNTIME_DIR = HERE / "mlserver"
SERVER_PYTHON = os.environ.get("MODELKILN_V2_SERVER_PYTHON") or str(
    REPO_ROOT / ".venv" / "bin" / "python")

# name -> (SERVICE_TYPE, extra command-line arguments)
MODELKILN_MODELS = {
    "Doubler": ("MODEL", ()),
    "Declared": ("MODEL", ("--v2-model-version", "3")),
    "Echo": ("MODEL", ()),
    "Shapes": ("MODEL", ()),
    "Router": ("ROUTER", ()),
    "Outlier": ("OUTLIER_DETECTOR", ()),
    "RawV2": ("MODEL", ()),
    "Fails": ("MODEL", ()),
    "Teapot": ("MODEL", ()),
    "Halves": ("MODEL", ()),
}


def check_server_python() -> None:
    if not os.access(SERVER_PYTHON, os.X_OK):
        raise RuntimeError("the modelkiln server runs with %s, which does not exist: run "
                           "`make venv` (or set MODELKILN_V2_SERVER_PYTHON)" % SERVER_PYTHON)


class ModelkilnServer(LiveServer):
    """``python -m python_runtime <Model>`` from ``.venv``, in ``tests/v2/models``."""

    def __init__(self, model: str, service_type: str = "MODEL", args: Sequence[str] = (),
                 env: Optional[Dict[str, str]] = None) -> None:
        super(ModelkilnServer, self).__init__(
            ".", model_name=model, env=env,
            args=["--service-type", service_type] + list(args))
        self.app_dir = MODELS
        self.v2_name = model
        self.version = None  # type: Optional[str]
        if "--v2-model-version" in args:
            self.version = args[list(args).index("--v2-model-version") + 1]

    @property
    def command(self) -> List[str]:
        cmd = super(ModelkilnServer, self).command
        cmd[0] = SERVER_PYTHON
        return cmd

    @property
    def host_port(self) -> str:
        return "127.0.0.1:%d" % self.http_port

    def infer_path(self, model: Optional[str] = None) -> str:
        return "/v2/models/%s/infer" % (model or self.v2_name)

    def infer(self, body: Any, model: Optional[str] = None, **kwargs: Any
              ) -> requests.Response:
        return self.session.post(self.url(self.infer_path(model)), json=body,
                                 timeout=60, **kwargs)

    def wait_v2_ready(self, timeout: float = READY_TIMEOUT) -> "ModelkilnServer":
        self.wait_status("/v2/health/ready", 200, timeout)
        return self

    def stop(self) -> None:
        super(ModelkilnServer, self).stop()
        shutil.rmtree(self.tmp, ignore_errors=True)  # its logs: failures quote them already


class Fleet(object):
    """modelkiln servers shared by a test session, started on first use."""

    def __init__(self) -> None:
        self.servers = {}  # type: Dict[str, ModelkilnServer]

    def get(self, *names: str) -> Dict[str, ModelkilnServer]:
        check_server_python()
        new = []
        for name in names:
            if name not in self.servers:
                service_type, args = MODELKILN_MODELS[name]
                server = ModelkilnServer(name, service_type, args)
                self.servers[name] = server
                new.append(server.start())
        for server in new:
            server.wait_v2_ready()
        return {name: self.servers[name] for name in names}

    def stop(self) -> None:
        """Stop every server, all at once (each by its own process group)."""
        threads = [threading.Thread(target=server.stop) for server in self.servers.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.servers.clear()


class MLServer(object):
    """MLServer 1.7.1 serving classes of ``model_dir`` (by default ``tests/v2/models``)
    through ``seldon_runtime``, in one process (``parallel_workers: 0``)."""

    def __init__(self, models: Iterable[str], model_dir: Path = MODELS) -> None:
        self.models = list(models)
        self.model_dir = Path(model_dir).resolve()
        self.tmp = tempfile.mkdtemp(prefix="modelkiln-mlserver-")
        self.http_port, self.grpc_port, self.metrics_port = self._ports()
        self.proc = None  # type: Optional[subprocess.Popen]
        self.log_path = os.path.join(self.tmp, "mlserver.log")
        self.session = requests.Session()

    @staticmethod
    def _ports() -> List[int]:
        ports = []  # type: List[int]
        while len(ports) < 3:
            port = free_port()
            if port not in ports:
                ports.append(port)
        return ports

    def write_repository(self) -> None:
        settings = {
            "parallel_workers": 0,  # inference in the server process, as the benchmark runs it
            "host": "127.0.0.1",
            "http_port": self.http_port,
            "grpc_port": self.grpc_port,
            "metrics_port": self.metrics_port,
            "metrics_endpoint": None,
            "debug": False,
            "load_models_at_startup": True,
        }
        with open(os.path.join(self.tmp, "settings.json"), "w") as handle:
            json.dump(settings, handle)
        for model in self.models:
            folder = os.path.join(self.tmp, "models", model)
            os.makedirs(folder)
            model_settings = {
                "name": model,
                "implementation": "seldon_runtime.SeldonStyleModel",
                "parameters": {"extra": {"model_dir": str(self.model_dir),
                                         "model_name": model}},
            }
            with open(os.path.join(folder, "model-settings.json"), "w") as handle:
                json.dump(model_settings, handle)

    def start(self) -> "MLServer":
        self.write_repository()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MLSERVER_", "MODEL_", "PYTHONPATH"))}
        env.update(PYTHONPATH=str(RUNTIME_DIR), PYTHONDONTWRITEBYTECODE="1",
                   PYTHONUNBUFFERED="1")
        mlserver = str(Path(sys.executable).parent / "mlserver")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [mlserver, "start", self.tmp], cwd=self.tmp, env=env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def url(self, path: str) -> str:
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    @property
    def host_port(self) -> str:
        return "127.0.0.1:%d" % self.http_port

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def _ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError("mlserver exited with %s\n%s"
                                 % (self.proc and self.proc.returncode, self.log()[-4000:]))
        try:
            if requests.get(self.url("/v2/health/ready"), timeout=5).status_code != 200:
                return False
            return all(requests.get(self.url("/v2/models/%s/ready" % m), timeout=5)
                       .status_code == 200 for m in self.models)
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> "MLServer":
        try:
            wait_for(self._ready, timeout, "mlserver /v2/health/ready")
        except AssertionError as exc:
            raise AssertionError("%s\n%s" % (exc, self.log()[-4000:]))
        return self

    def infer(self, body: Any, model: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url("/v2/models/%s/infer" % model), json=body,
                                 timeout=60, **kwargs)

    def stop(self) -> None:
        self.session.close()
        if self.proc is None:
            return
        stop_process_group(self.proc, 15.0)
        shutil.rmtree(self.tmp, ignore_errors=True)
