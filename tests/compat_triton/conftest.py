"""Fixtures of the differential suite against tritonserver (see README.md)."""

import pytest

from .servers import MODEL_NAMES, Tritonserver, start_modelkiln


@pytest.fixture(scope="session")
def triton():
    server = Tritonserver().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def modelkiln():
    servers = {}
    try:
        for name in MODEL_NAMES:
            servers[name] = start_modelkiln(name)
        yield servers
    finally:
        for server in servers.values():
            server.stop()
