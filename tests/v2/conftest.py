"""Session fixtures for the V2 tests: the modelkiln servers, started once and shared.

These tests run with ``.venv-v2`` (``make test-v2``). Collected from another virtualenv that
lacks the V2 clients (``pytest`` with the repository's testpaths in ``.venv``), they are left
out rather than failing at import; inside ``.venv-v2`` a missing package fails loudly.
"""

import importlib.util
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

_V2_VENV = Path(__file__).resolve().parents[2] / ".venv-v2"
_NEEDED = ("tritonclient", "mlserver", "schemathesis", "open_inference", "openapi_spec_validator")
_MISSING = [name for name in _NEEDED if importlib.util.find_spec(name) is None]
if _MISSING and Path(sys.prefix).resolve() != _V2_VENV.resolve():
    collect_ignore_glob = ["test_*.py"]  # not the V2 virtualenv: run `make test-v2`

from .servers import Fleet, MLServer, ModelkilnServer  # noqa: E402

# the classes both differential suites (REST and gRPC) serve from MLServer and from modelkiln
DIFF_MODELS = ("Echo", "Doubler", "Fails", "Teapot")


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    servers = Fleet()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="module")
def mlserver() -> Iterator[MLServer]:
    server = MLServer(DIFF_MODELS).start()
    try:
        yield server.wait_ready()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ours(fleet: Any) -> Dict[str, ModelkilnServer]:
    return fleet.get(*DIFF_MODELS)
