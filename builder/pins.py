"""Which pinned runtime stack serves which Python.

A conda environment may bring its own interpreter (any CPython from 3.6 to 3.13); the runtime's
libraries (numpy, gunicorn, Flask, ...) must then be versions that install on that Python. One
pin file per range of Pythons lives in ``requirements/`` in the repo and in ``PINS_DIR`` in
every builder image; each builder image installs its own Python's file for itself.
"""

from typing import Tuple

PINS_DIR = "/opt/modelkiln/pins"

Version = Tuple[int, int]

# (lowest, highest, pin file): the ranges are contiguous and do not overlap.
RUNTIME_PINS = (
    ((3, 6), (3, 6), "runtime-py36.txt"),
    ((3, 7), (3, 7), "runtime-py37.txt"),
    ((3, 8), (3, 8), "runtime-py38.txt"),
    ((3, 9), (3, 10), "runtime-py39.txt"),
    ((3, 11), (3, 13), "runtime-py311.txt"),
)


class UnsupportedPython(ValueError):
    """No runtime stack installs on this Python; the message names the supported ones."""


def _text(version: Version) -> str:
    return "%d.%d" % version


def supported() -> str:
    """``3.6 to 3.13``."""
    return "%s to %s" % (_text(RUNTIME_PINS[0][0]), _text(RUNTIME_PINS[-1][1]))


def parse_version(text: str) -> Version:
    """``3.9.2`` (or ``3.9``) -> (3, 9)."""
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError) as exc:
        raise UnsupportedPython("cannot read the Python version %r" % text) from exc


def pin_file(version: Version) -> str:
    """The pin file's name for ``version``; UnsupportedPython outside every range."""
    for low, high, name in RUNTIME_PINS:
        if low <= version <= high:
            return name
    raise UnsupportedPython(
        "Python %s is not supported: the modelkiln runtime runs on CPython %s; pin one of "
        "those in environment.yml (for example python=3.11)" % (_text(version), supported()))


def markdown_table() -> str:
    rows = ["| Python in the environment | Runtime pins |", "|---|---|"]
    for low, high, name in RUNTIME_PINS:
        span = _text(low) if low == high else "%s to %s" % (_text(low), _text(high))
        rows.append("| %s | `requirements/%s` |" % (span, name))
    return "\n".join(rows) + "\n"

