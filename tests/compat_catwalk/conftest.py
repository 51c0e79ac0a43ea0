"""Fixtures for the differential suite against catwalk (see README.md here)."""

import pytest

from tests.compat.servers import open_pool

from .servers import ServerPool, catwalk_executable


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory):
    pool = open_pool(ServerPool, catwalk_executable, tmp_path_factory.mktemp("server-logs"))
    yield pool
    pool.close()
