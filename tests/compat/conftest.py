"""Fixtures for the differential suite against seldon-core 1.18 (see README.md here)."""

import pytest

from .servers import ServerPool, open_pool, seldon_executable


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory):
    pool = open_pool(ServerPool, seldon_executable, tmp_path_factory.mktemp("server-logs"))
    yield pool
    pool.close()
