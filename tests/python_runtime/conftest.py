"""Fixtures of the runtime tests."""

import pytest

try:
    from . import live
except ImportError:  # tests/python_runtime is not a package
    import live


@pytest.fixture
def serve(tmp_path):
    """Start a server: ``serve(app, model_name, env=..., args=..., ready=True)``; every one
    is stopped after the test."""
    started = []

    def start(app, model_name=None, env=None, args=(), ready=True):
        server = live.LiveServer(app, model_name, env=env, args=args, workdir=str(tmp_path))
        started.append(server)
        server.start()
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
        # Shown by pytest only when the test failed.
        print("=== %s ===\n%s" % (" ".join(server.command[2:]), server.log_tail()))
