"""Which runtime pin file serves which Python (builder/pins.py) and the files themselves."""

import re
from pathlib import Path

import pytest

from builder import pins

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("version, name", [
    ((3, 6), "runtime-py36.txt"), ((3, 7), "runtime-py37.txt"), ((3, 8), "runtime-py38.txt"),
    ((3, 9), "runtime-py39.txt"), ((3, 10), "runtime-py39.txt"),
    ((3, 11), "runtime-py311.txt"), ((3, 12), "runtime-py311.txt"),
    ((3, 13), "runtime-py311.txt"),
])
def test_each_supported_python_has_its_pins(version, name):
    assert pins.pin_file(version) == name


@pytest.mark.parametrize("version", [(2, 7), (3, 5), (3, 14), (4, 0)])
def test_unsupported_pythons_name_the_range(version):
    with pytest.raises(pins.UnsupportedPython) as info:
        pins.pin_file(version)
    assert "Python %d.%d is not supported" % version in str(info.value)
    assert "CPython 3.6 to 3.13" in str(info.value)


@pytest.mark.parametrize("text, version", [("3.9.2", (3, 9)), ("3.11", (3, 11)),
                                           ("3.13.0rc1", (3, 13))])
def test_parse_version(text, version):
    assert pins.parse_version(text) == version


def test_ranges_are_contiguous_and_files_exist():
    previous = None
    for low, high, name in pins.RUNTIME_PINS:
        assert low <= high
        if previous:
            assert low == (previous[0], previous[1] + 1), "gap or overlap before %s" % name
        previous = high
        assert (REPO / "requirements" / name).is_file(), name
    listed = {name for _, _, name in pins.RUNTIME_PINS}
    on_disk = {p.name for p in (REPO / "requirements").glob("runtime-py*.txt")}
    assert listed == on_disk


@pytest.mark.parametrize("name", sorted({n for _, _, n in pins.RUNTIME_PINS}))
def test_pin_files_pin_every_runtime_library_exactly(name):
    lines = [line.split("#")[0].strip() for line in
             (REPO / "requirements" / name).read_text().splitlines()]
    pinned = {re.split(r"[=<>!~]", line)[0].lower(): line for line in lines if line}
    for library in ("numpy", "gunicorn", "flask", "werkzeug", "prometheus-client", "pyyaml"):
        assert "==" in pinned.get(library, ""), "%s: %s is not pinned" % (name, library)
