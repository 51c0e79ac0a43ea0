"""h2spec (the HTTP/2 conformance suite: generic, http2, hpack, strict mode) against a live
gRPC port (147 cases: all pass).

h2spec is built from ``../shared/vendor/h2spec-af83a65.tar.gz`` by ``tests/h2spec/build.sh``
(Debian's golang-go in GOPATH mode; cached under ~/.cache/modelkiln). Every case must pass,
except those in ``ALLOWED``, each with the reason it cannot pass on a gRPC-only server.
Without Go the test fails and names `make reliability-tools`, which installs it.
"""

import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Dict, List

import pytest

from ..python_runtime import live

pytestmark = pytest.mark.slow

BUILD = Path(__file__).resolve().parents[1] / "h2spec" / "build.sh"

# h2spec case id ("section/number") -> why it cannot pass against a gRPC-only server.
ALLOWED = {}  # type: Dict[str, str]


@pytest.fixture(scope="module")
def h2spec() -> str:
    if shutil.which("go") is None:
        pytest.fail("no Go toolchain: run `make reliability-tools` (Debian's golang-go and "
                    "h2spec's golang-*-dev packages)", pytrace=False)
    built = subprocess.run(["sh", str(BUILD)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=600)
    assert built.returncode == 0, built.stderr.decode(errors="replace")
    return built.stdout.decode().strip().splitlines()[-1]


def failures(report: Path) -> Dict[str, List[str]]:
    """The JUnit report's outcome: {"passed"|"failed"|"skipped": [case ids]}."""
    outcome = {"passed": [], "failed": [], "skipped": []}  # type: Dict[str, List[str]]
    for suite in ElementTree.parse(str(report)).getroot().iter("testsuite"):
        for number, case in enumerate(suite.iter("testcase"), 1):
            name = "%s/%d" % (suite.get("package"), number)
            if case.find("failure") is not None or case.find("error") is not None:
                outcome["failed"].append("%s %s" % (name, case.get("classname")))
            elif case.find("skipped") is not None:
                outcome["skipped"].append(name)
            else:
                outcome["passed"].append(name)
    return outcome


def test_h2spec_generic_http2_hpack(h2spec, tmp_path):
    server = live.LiveServer("fuzzecho", "FuzzEcho", env={"MODELKILN_HEADER_TIMEOUT": "3"},
                             workdir=str(tmp_path))
    server.start()
    try:
        server.wait_ready()
        report = tmp_path / "h2spec.xml"
        run = subprocess.run(
            # -S: strict mode too. --max-header-length: 4.2/3 sends five dummy headers of this
            # length in one HEADERS frame to exceed SETTINGS_MAX_FRAME_SIZE; at its default
            # (4000) they exceed only the RFC's 16384, not the 65536 this server announces
            [h2spec, "-h", "127.0.0.1", "-p", str(server.grpc_port), "-o", "3", "-S",
             "--max-header-length", "14000",
             "-j", str(report), "generic", "http2", "hpack"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        text = run.stdout.decode(errors="replace")
        outcome = failures(report)
        unexpected = [case for case in outcome["failed"]
                      if case.split(" ", 1)[0] not in ALLOWED]
        assert not unexpected, text[-6000:]
        assert len(outcome["passed"]) + len(outcome["failed"]) >= 140, text[-3000:]
        assert server.alive
        assert "Traceback" not in server.log()
    finally:
        server.stop()
