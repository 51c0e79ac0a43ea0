"""Fixtures for the differential suite against `mlflow models serve` (see README.md here)."""

import pytest

from tests.compat.servers import ServerFailed, open_pool

from .servers import ServerPool, make_models, mlflow_executable


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    """The suite's MLflow folders, saved once per session by the oracle's mlflow."""
    mlflow_executable()
    try:
        return make_models(tmp_path_factory.mktemp("mlflow-models"))
    except ServerFailed as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory, models_dir):
    log_dir = tmp_path_factory.mktemp("server-logs")
    pool = open_pool(lambda log_dir: ServerPool(log_dir=log_dir, models=models_dir),
                     mlflow_executable, log_dir)
    yield pool
    pool.close()
