"""Fixtures for the differential suite against ODAHU's docker-rest handler (see README.md)."""

import pytest

from tests.compat.servers import open_pool

from .servers import ServerPool, odahu_executable


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory):
    pool = open_pool(ServerPool, odahu_executable, tmp_path_factory.mktemp("server-logs"))
    yield pool
    pool.close()
