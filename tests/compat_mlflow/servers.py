"""Start, probe and stop the two servers of a differential pair.

The oracle is ``mlflow models serve -m DIR --env-manager local -p P`` from its own virtualenv
(``MODELKILN_MLFLOW_VENV``, default ``<repo>/.venv-mlflow``, made by ``make mlflow-venv``):
MLflow's FastAPI scoring server under uvicorn, one worker, as MLflow starts it. The candidate
is ``python -m python_runtime DIR`` run by this interpreter (``.venv-mlflow-skinny``: the
runtime's pins and mlflow-skinny, as an image holds them), or a second MLflow when
``MODELKILN_MLFLOW_CANDIDATE=mlflow`` (a self-check of the harness: MLflow against itself must
show no differences). Both serve the folder with no MODEL_NAME, and both are ready when
``GET /ping`` answers 200.

The model folders are written once per session by ``make_models.py`` with the oracle's
interpreter (``models_dir``).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from tests.compat import servers as compat_servers
from tests.compat.servers import OracleMissing, ServerFailed, free_ports
from tests.compat_catwalk import servers as catwalk_servers

from .cases import Deployment

REPO_ROOT = Path(__file__).resolve().parents[2]
MAKE_MODELS = Path(__file__).resolve().parent / "make_models.py"

MLFLOW_VENV_ENV = "MODELKILN_MLFLOW_VENV"
CANDIDATE_ENV = "MODELKILN_MLFLOW_CANDIDATE"
START_TIMEOUT_ENV = "MODELKILN_MLFLOW_START_TIMEOUT"
CANDIDATES = ("modelkiln", "mlflow")

# Variables either server reads (MLflow's MLFLOW_*; modelkiln's settings): cleared so the
# caller's shell cannot leak into a run.
_SERVER_ENV_PREFIXES = (
    "MLFLOW_", "_MLFLOW_", "MODEL_", "SERVER_", "PREDICTIVE_UNIT_", "SELDON_", "GUNICORN_",
    "FLASK_", "GRPC_", "MODELKILN_", "PSC_", "PAYLOAD_", "PYTHONPATH", "PYTHONHOME",
    "SERVICE_TYPE", "LOG_LEVEL", "PIP_", "VIRTUAL_ENV",
)


def mlflow_venv() -> Path:
    return Path(os.environ.get(MLFLOW_VENV_ENV) or REPO_ROOT / ".venv-mlflow")


def mlflow_executable() -> Path:
    """The oracle's CLI; raises OracleMissing (with the fix) when it is absent."""
    exe = mlflow_venv() / "bin" / "mlflow"
    if not exe.exists():
        raise OracleMissing(
            "mlflow oracle not found: %s does not exist. Run `make mlflow-venv` in %s (or "
            "point %s at a virtualenv holding mlflow)." % (exe, REPO_ROOT, MLFLOW_VENV_ENV))
    return exe


def candidate_kind() -> str:
    return compat_servers.chosen_candidate(CANDIDATE_ENV, CANDIDATES)


def make_models(out: Path, names: Optional[List[str]] = None) -> Path:
    """The suite's MLflow folders, saved by the oracle's mlflow into ``out``."""
    python = mlflow_executable().parent / "python"
    done = subprocess.run([str(python), str(MAKE_MODELS), str(out)] + list(names or []),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, env=_base_env())
    if done.returncode != 0:
        raise ServerFailed("make_models.py failed:\n%s" % done.stdout[-4000:])
    return out


def _base_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SERVER_ENV_PREFIXES)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the model folders stay as saved
    env["PYTHONUNBUFFERED"] = "1"
    # MLflow writes Python sets into some messages (the input fields it takes, the extra
    # columns it found): one hash seed for both servers gives them one order
    env["PYTHONHASHSEED"] = "0"
    return env


class FolderServer(catwalk_servers.FolderServer):
    """A server run in its model folder (tests/compat_catwalk's), ready when /ping says so."""

    def __init__(self, label: str, argv: List[str], env: Dict[str, str], http_port: int,
                 log_dir: Path, cwd: Path):
        super().__init__(label, argv, env, http_port, log_dir, cwd)
        self.ready_path = "/ping"


def mlflow_server(folder: Path, label: str, log_dir: Path, port: Optional[int] = None
                  ) -> FolderServer:
    (http,) = [port] if port else free_ports(1)
    exe = mlflow_executable()
    argv = [str(exe), "models", "serve", "-m", str(folder), "--env-manager", "local",
            "-p", str(http), "-h", "127.0.0.1"]
    env = _base_env()
    # mlflow starts `uvicorn` by name: its venv's bin first on PATH
    env["PATH"] = "%s:%s" % (exe.parent, env.get("PATH", "/usr/bin:/bin"))
    return FolderServer(label, argv, env, http, log_dir, folder)


def modelkiln_server(folder: Path, label: str, log_dir: Path, python: Optional[str] = None,
                     port: Optional[int] = None, workers: int = 1, grpc_on: bool = False
                     ) -> FolderServer:
    """modelkiln on ``folder``; gRPC off unless ``grpc_on`` (its port: ``server.grpc_port``)."""
    http, metrics, grpc = ([port] + free_ports(2)) if port else free_ports(3)
    argv = [python or sys.executable, "-m", "python_runtime", str(folder)]
    env = _base_env()
    env.update({
        "PYTHONPATH": str(REPO_ROOT),
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(http),
        "GRPC_WORKERS": "1" if grpc_on else "0",
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(grpc),
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics),
        "GUNICORN_WORKERS": str(workers),
    })
    server = FolderServer(label, argv, env, http, log_dir, folder)
    server.grpc_port = grpc
    return server


class ServerPool(compat_servers.ServerPool):
    """tests/compat's pool (one pair per deployment, started lazily, the last two kept alive,
    a failed start remembered) with MLflow as the oracle."""

    oracle_name = "mlflow"
    log_prefix = "modelkiln-compat-mlflow-"
    start_timeout_env = START_TIMEOUT_ENV
    default_candidate = staticmethod(candidate_kind)

    def __init__(self, log_dir: Optional[Path] = None, candidate: Optional[str] = None,
                 with_candidate: bool = True, models: Optional[Path] = None):
        super().__init__(log_dir, candidate=candidate, with_candidate=with_candidate)
        self.models = models or make_models(Path(tempfile.mkdtemp(prefix="mlflow-models-")))

    def folder(self, dep: Deployment) -> Path:
        return self.models / dep.name

    def oracle_server(self, dep: Deployment, label: str) -> FolderServer:
        return mlflow_server(self.folder(dep), label, self.log_dir)

    def modelkiln_server(self, dep: Deployment, label: str) -> FolderServer:
        return modelkiln_server(self.folder(dep), label, self.log_dir)
