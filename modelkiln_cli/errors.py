"""The one error root of the ``modelkiln`` command: every failure it reports is a ``CliError``
(or one of the engine library's own errors), printed once as ``ERROR: <message>`` by
``cli.main``; the message says what to do."""


import sys
from typing import Callable


class CliError(Exception):
    """A command cannot go on; the message says why and what to change."""


def engine_errors() -> tuple:
    """The docker SDK's own errors (an API error mid-build), when the SDK is installed."""
    try:
        import docker.errors
    except ImportError:
        return ()
    return (docker.errors.DockerException,)


def report_errors(command: Callable[[], int]) -> int:
    """Run a command; print any failure it reports once, as ``ERROR: ...``, and return 1."""
    try:
        return command()
    except (CliError,) + engine_errors() as exc:
        print("ERROR: %s" % exc, file=sys.stderr, flush=True)
        return 1
