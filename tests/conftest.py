"""Hooks shared by every test package."""

import os
import sys

import pytest

_EXIT = {}


def pytest_sessionfinish(session, exitstatus):
    _EXIT["status"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """py-rattler's native threads sometimes abort the interpreter while it finalizes (about
    one run in 40 here, after every test has passed and been reported). When the tests loaded
    it, leave without finalizing, with pytest's own exit status."""
    if "rattler" in sys.modules and "status" in _EXIT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT["status"])
