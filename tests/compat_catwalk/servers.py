"""Start, probe and stop the two servers of a differential pair.

The oracle is catwalk 0.1.0's own server, ``catwalk serve --model-path DIR --debug
--no-run-tests --server-port P`` (its Flask development server), from its own virtualenv
(``MODELKILN_CATWALK_VENV``, default ``<repo>/.venv-catwalk``, made by ``make catwalk-venv``).
The candidate is ``python -m python_runtime DIR`` run by this interpreter with catwalk's
``SERVER_PORT``, or a second catwalk when ``MODELKILN_CATWALK_CANDIDATE=catwalk`` (a self-check
of the harness: catwalk against itself must show no differences). Both run in the model folder
with no MODEL_NAME, and both are ready when ``GET /status`` answers 200.
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

from tests.compat import servers as compat_servers
from tests.compat.servers import OracleMissing, Server, chosen_candidate, free_ports

from .cases import Deployment

REPO_ROOT = Path(__file__).resolve().parents[2]
OWN_MODELS = Path(__file__).resolve().parent / "models"

CATWALK_VENV_ENV = "MODELKILN_CATWALK_VENV"
CATWALK_SRC_ENV = "MODELKILN_CATWALK_SRC"
CANDIDATE_ENV = "MODELKILN_CATWALK_CANDIDATE"
START_TIMEOUT_ENV = "MODELKILN_CATWALK_START_TIMEOUT"
CANDIDATES = ("modelkiln", "catwalk")

# Variables either server reads (catwalk's CLI: MODEL_PATH, SERVER_CONFIG, SERVER_PORT,
# RUN_TESTS; modelkiln's settings; pip's, for catwalk's start-up `pip install -r`): cleared so
# the caller's shell cannot leak into a run.
_SERVER_ENV_PREFIXES = (
    "MODEL_", "SERVER_", "RUN_TESTS", "PREDICTIVE_UNIT_", "SELDON_", "GUNICORN_", "FLASK_",
    "GRPC_", "MODELKILN_", "PSC_", "PAYLOAD_", "PYTHONPATH", "PYTHONHOME", "SERVICE_TYPE",
    "LOG_LEVEL", "PIP_",
)


def catwalk_venv() -> Path:
    return Path(os.environ.get(CATWALK_VENV_ENV) or REPO_ROOT / ".venv-catwalk")


def catwalk_source() -> Path:
    """catwalk's unpacked source tree (example_models/, tutorials/), made by make catwalk-venv."""
    return Path(os.environ.get(CATWALK_SRC_ENV) or REPO_ROOT / ".build" / "catwalk-49bafe1")


def catwalk_executable() -> Path:
    """The oracle's CLI; raises OracleMissing (with the fix) when it or its models are absent."""
    exe = catwalk_venv() / "bin" / "catwalk"
    for needed in (exe, catwalk_source() / "example_models"):
        if not needed.exists():
            raise OracleMissing(
                "catwalk oracle not found: %s does not exist. Run `make catwalk-venv` in %s "
                "(or point %s at a virtualenv holding catwalk and %s at its unpacked source)."
                % (needed, REPO_ROOT, CATWALK_VENV_ENV, CATWALK_SRC_ENV))
    return exe


def candidate_kind() -> str:
    return chosen_candidate(CANDIDATE_ENV, CANDIDATES)


def model_folder(dep: Deployment) -> Path:
    return (catwalk_source() if dep.source == "catwalk" else OWN_MODELS) / dep.folder


def _base_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SERVER_ENV_PREFIXES)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the model folders stay as unpacked
    env["PYTHONUNBUFFERED"] = "1"
    return env


class FolderServer(Server):
    """A Server whose process runs in its model folder (both servers import model.py from there)."""

    def __init__(self, label: str, argv: List[str], env: Dict[str, str], http_port: int,
                 log_dir: Path, cwd: Path):
        super().__init__(label, argv, env, "/status", http_port, log_dir)
        self.cwd = cwd

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=str(self.cwd), env=self.env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )


def catwalk_server(dep: Deployment, label: str, log_dir: Path) -> FolderServer:
    (http,) = free_ports(1)
    folder = model_folder(dep)
    argv = [str(catwalk_executable()), "serve", "--model-path", str(folder), "--debug",
            "--no-run-tests", "--server-port", str(http)]
    env = _base_env()
    # `catwalk serve` first runs `pip install -r requirements.txt` in the model folder: offline,
    # so it only confirms that the venv already has what the model needs (make catwalk-venv)
    # and can neither reach an index nor change the oracle's packages.
    env.update({"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return FolderServer(label, argv, env, http, log_dir, folder)


def modelkiln_server(dep: Deployment, label: str, log_dir: Path,
                     python: Optional[str] = None) -> FolderServer:
    http, metrics, grpc = free_ports(3)
    folder = model_folder(dep)
    argv = [python or sys.executable, "-m", "python_runtime", str(folder)]
    env = _base_env()
    env.update({
        "PYTHONPATH": str(REPO_ROOT),
        "SERVER_PORT": str(http),  # catwalk's variable is the REST port of a catwalk folder
        "GRPC_WORKERS": "0",
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(grpc),
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics),
        "GUNICORN_WORKERS": "1",
    })
    return FolderServer(label, argv, env, http, log_dir, folder)


class ServerPool(compat_servers.ServerPool):
    """tests/compat's pool (one pair per deployment, started lazily, the last two kept alive,
    a failed start remembered) with catwalk as the oracle."""

    log_prefix = "modelkiln-compat-catwalk-"
    start_timeout_env = START_TIMEOUT_ENV
    default_candidate = staticmethod(candidate_kind)
    oracle_name = "catwalk"

    def oracle_server(self, dep: Deployment, label: str) -> FolderServer:
        return catwalk_server(dep, label, self.log_dir)

    def modelkiln_server(self, dep: Deployment, label: str) -> FolderServer:
        return modelkiln_server(dep, label, self.log_dir)
