"""Fixtures of tests/openai: modelkiln serving apps/chatty from the repository's runtime
virtualenv (.venv), tested from .venv-openai with the official openai client."""

from pathlib import Path
from typing import List

import pytest

from tests.python_runtime.live import LiveServer

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODELKILN_PYTHON = REPO / ".venv" / "bin" / "python"


class Server(LiveServer):
    """modelkiln serving one folder of tests/openai/apps with .venv's Python."""

    def __init__(self, app, model_name, **kwargs):
        super(Server, self).__init__(app, model_name, **kwargs)
        self.app_dir = HERE / "apps" / app

    @property
    def command(self) -> List[str]:
        return [str(MODELKILN_PYTHON)] + super(Server, self).command[1:]


def start(env=None, app="chatty", model="Chatty"):
    server = Server(app, model, env=dict({"GRPC_WORKERS": "0"}, **(env or {})))
    server.start()
    try:
        server.wait_ready()
    except Exception:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def chatty():
    server = start({"MODELKILN_WRITE_TIMEOUT": "3"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def streamer():
    server = start(app="streamer", model="Streamer")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain():
    server = start(app="plain", model="Plain")
    yield server
    server.stop()
