"""Fixtures for the gRPC differential suite against seldon-core 1.18 (see README.md here)."""

import sys
import warnings

import pytest

from ..compat.servers import OracleMissing, candidate_kind, seldon_executable
from .cases import DEPLOYMENT_BY_NAME
from .servers import GrpcServerPool, modelkiln_python

try:  # the client is seldon-core's stubs: this suite runs under the oracle's interpreter
    with warnings.catch_warnings():  # its generated modules use deprecated protobuf APIs
        warnings.simplefilter("ignore", DeprecationWarning)
        import seldon_core.proto.prediction_pb2_grpc  # noqa: F401
    SELDON_IMPORT_ERROR = ""
except ImportError as exc:
    SELDON_IMPORT_ERROR = str(exc)
    # Not collected here (e.g. `pytest tests` under .venv); run on its own it then fails with
    # "no tests ran" (exit 5) and the header below says why.
    collect_ignore_glob = ["*.py"]


def pytest_report_header(config):
    if SELDON_IMPORT_ERROR:
        return ("tests/compat_grpc not collected: seldon-core's stubs are not importable under "
                "%s (%s); run it with .venv-seldon/bin/python -m pytest tests/compat_grpc"
                % (sys.executable, SELDON_IMPORT_ERROR))
    return None


def _deployments_in_test_order(session):
    seen = []
    for item in session.items:
        case = getattr(getattr(item, "callspec", None), "params", {}).get("case")
        name = getattr(case, "deployment", None)
        if name and name not in seen:
            seen.append(name)
    return [DEPLOYMENT_BY_NAME[name] for name in seen]


@pytest.fixture(scope="session")
def grpc_pool(request, tmp_path_factory):
    # A missing oracle or interpreter must fail loudly, never skip.
    missing = None
    try:
        seldon_executable()
        if candidate_kind() == "modelkiln":
            modelkiln_python()
    except OracleMissing as exc:
        missing = str(exc)
    if missing:
        pytest.fail(missing, pytrace=False)
    pool = GrpcServerPool(_deployments_in_test_order(request.session),
                          tmp_path_factory.mktemp("grpc-server-logs"), candidate=candidate_kind())
    yield pool
    pool.close()

