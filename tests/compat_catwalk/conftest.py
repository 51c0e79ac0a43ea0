"""Fixtures for the differential suite against catwalk (see README.md here)."""

import pytest

from .servers import OracleMissing, ServerPool, candidate_kind, catwalk_executable


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory):
    # A missing oracle must fail loudly, never skip: CI would pass with zero comparisons.
    missing = None
    try:
        catwalk_executable()
    except OracleMissing as exc:
        missing = str(exc)
    if missing:
        pytest.fail(missing, pytrace=False)
    pool = ServerPool(log_dir=tmp_path_factory.mktemp("server-logs"), candidate=candidate_kind())
    yield pool
    pool.close()
