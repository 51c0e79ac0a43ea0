"""Start, probe and stop the two servers of a differential pair.

The oracle is ODAHU's docker-rest handler (``odahuflow_handler.py`` of odahu-packager 1.6.1) run
as its image runs it: gunicorn from its own virtualenv (``MODELKILN_ODAHU_VENV``, default
``<repo>/.venv-odahu``, made by ``make odahu-venv``) with the image's command line
(``--pythonpath APP --timeout 60 -w 1 --threads 4 odahuflow_handler:app --access-logfile -``),
in a folder holding the handler and, as ``odahuflow_model``, the GPPI folder's work dir (a link
to it: the folder stays as it is); ``ODAHU_MODEL_NAME``, ``ODAHU_MODEL_VERSION`` and
``MODEL_LOCATION`` as its Dockerfile sets them from the project file. The candidate is
``python -m python_runtime DIR`` run by this interpreter in the GPPI folder with no MODEL_NAME
and no ODAHU_* variable, or a second handler when ``MODELKILN_GPPI_CANDIDATE=odahu`` (a
self-check of the harness: the handler against itself must show no differences).
"""

import os
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from tests.compat import servers as compat_servers
from tests.compat.servers import OracleMissing, Server, chosen_candidate, free_ports
from tests.compat_catwalk.servers import FolderServer

from .cases import Deployment

REPO_ROOT = Path(__file__).resolve().parents[2]
OWN_MODELS = Path(__file__).resolve().parent / "models"

ODAHU_VENV_ENV = "MODELKILN_ODAHU_VENV"
ODAHU_SRC_ENV = "MODELKILN_ODAHU_SRC"
CANDIDATE_ENV = "MODELKILN_GPPI_CANDIDATE"
START_TIMEOUT_ENV = "MODELKILN_GPPI_START_TIMEOUT"
CANDIDATES = ("modelkiln", "odahu")

PROJECT = "odahuflow.project.yaml"
PACKAGE = "odahuflow_model"  # what the handler imports the work dir as
HANDLER = "odahu-packager/packagers/odahuflow/packager/flask/resources/odahuflow_handler.py"
INVOKER = "odahu-flow/packages/sdk/odahuflow/sdk/gppi/entrypoint_invoke.py"
EXAMPLES = "odahu-flow/packages"

# Variables either server reads (the handler's and its image's; modelkiln's settings): cleared
# so the caller's shell cannot leak into a run.
_SERVER_ENV_PREFIXES = (
    "ODAHU_", "MODEL_", "PREDICTIVE_UNIT_", "SELDON_", "GUNICORN_", "FLASK_", "GRPC_",
    "MODELKILN_", "PSC_", "PAYLOAD_", "SERVER_", "PYTHONPATH", "PYTHONHOME", "SERVICE_TYPE",
    "LOG_LEVEL",
)


def odahu_venv() -> Path:
    return Path(os.environ.get(ODAHU_VENV_ENV) or REPO_ROOT / ".venv-odahu")


def odahu_source() -> Path:
    """ODAHU's unpacked sources (the handler, the SDK, its example folders), made by make
    odahu-venv."""
    return Path(os.environ.get(ODAHU_SRC_ENV) or REPO_ROOT / ".build" / "odahu-gppi")


def odahu_executable() -> Path:
    """The oracle's gunicorn; raises OracleMissing (with the fix) when it or ODAHU's sources
    are absent."""
    exe = odahu_venv() / "bin" / "gunicorn"
    for needed in (exe, odahu_source() / HANDLER, odahu_source() / INVOKER):
        if not needed.exists():
            raise OracleMissing(
                "ODAHU oracle not found: %s does not exist. Run `make odahu-venv` in %s (or "
                "point %s at a virtualenv with requirements/test-odahu.txt and %s at the "
                "unpacked odahu-gppi tarball)." % (needed, REPO_ROOT, ODAHU_VENV_ENV,
                                                   ODAHU_SRC_ENV))
    return exe


def candidate_kind() -> str:
    return chosen_candidate(CANDIDATE_ENV, CANDIDATES)


def model_folder(dep: Deployment) -> Path:
    roots = {"odahu": odahu_source() / EXAMPLES, "suite": OWN_MODELS,
             "test_apps": REPO_ROOT / "test_apps"}
    return roots[dep.source] / dep.folder


def read_project(folder: Path) -> dict:
    import yaml

    with open(str(folder / PROJECT)) as handle:
        return yaml.safe_load(handle)


def _as_str(value) -> str:
    """What ODAHU's manifest model (pydantic 1, ``name: str``) makes of a YAML scalar: an
    unquoted ``version: 1.10`` is the float 1.1, and its image says ``1.1``."""
    return value if isinstance(value, str) else str(value)


def odahu_identity(folder: Path) -> Dict[str, str]:
    """The variables ODAHU's Dockerfiles set from the project: ODAHU_MODEL_NAME,
    ODAHU_MODEL_VERSION; and the model's work dir and entrypoint module."""
    model = read_project(folder)["model"]
    return {"ODAHU_MODEL_NAME": _as_str(model["name"]),
            "ODAHU_MODEL_VERSION": _as_str(model["version"]),
            "work_dir": str(folder / model["workDir"]), "entrypoint": _as_str(model["entrypoint"])}


def base_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SERVER_ENV_PREFIXES)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the model folders stay as they are
    env["PYTHONUNBUFFERED"] = "1"
    return env


def handler_folder(folder: Path, where: Path) -> Path:
    """The handler's folder as ODAHU's docker-rest image lays it out: the handler beside the
    work dir, which is the package ``odahuflow_model`` (here a link to the GPPI folder's)."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "odahuflow_handler.py").write_bytes((odahu_source() / HANDLER).read_bytes())
    link = where / PACKAGE
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(odahu_identity(folder)["work_dir"], target_is_directory=True)
    return where


def odahu_command(app: Path, port: int, host: str = "127.0.0.1") -> Tuple[List[str], Dict[str, str]]:
    """The docker-rest image's CMD (its Dockerfile, with the packager's defaults: timeout 60,
    1 worker, 4 threads) and the environment its Dockerfile sets, less the GPPI identity."""
    argv = [str(odahu_executable()), "--pythonpath", str(app), "--timeout", "60",
            "-b", "%s:%d" % (host, port), "-w", "1", "--threads", "4",
            "odahuflow_handler:app", "--access-logfile", "-"]
    env = base_env()
    env["MODEL_LOCATION"] = PACKAGE
    return argv, env


def odahu_server(dep: Deployment, label: str, log_dir: Path) -> FolderServer:
    (http,) = free_ports(1)
    folder = model_folder(dep)
    app = handler_folder(folder, log_dir / ("app-" + label))
    argv, env = odahu_command(app, http)
    identity = odahu_identity(folder)
    env.update({k: identity[k] for k in ("ODAHU_MODEL_NAME", "ODAHU_MODEL_VERSION")})
    server = FolderServer(label, argv, env, http, log_dir, app)
    server.ready_path = "/healthcheck"
    return server


def modelkiln_server(dep: Deployment, label: str, log_dir: Path) -> FolderServer:
    http, metrics, grpc = free_ports(3)
    folder = model_folder(dep)
    env = base_env()
    env.update({
        "PYTHONPATH": str(REPO_ROOT),
        "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(http),
        "GRPC_WORKERS": "0",
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(grpc),
        "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics),
        "GUNICORN_WORKERS": "1",
    })
    server = FolderServer(label, [sys.executable, "-m", "python_runtime", str(folder)], env, http,
                          log_dir, folder)
    server.ready_path = "/ready"
    return server


class ServerPool(compat_servers.ServerPool):
    """tests/compat's pool (one pair per deployment, started lazily, the last two kept alive,
    a failed start remembered) with ODAHU's handler as the oracle."""

    log_prefix = "modelkiln-compat-gppi-"
    start_timeout_env = START_TIMEOUT_ENV
    default_candidate = staticmethod(candidate_kind)
    oracle_name = "odahu"

    def oracle_server(self, dep: Deployment, label: str) -> Server:
        return odahu_server(dep, label, self.log_dir)

    def modelkiln_server(self, dep: Deployment, label: str) -> Server:
        return modelkiln_server(dep, label, self.log_dir)
