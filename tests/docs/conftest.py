"""The documentation site's tests: the strict build, the generated reference, the examples on
the pages run against a live server, and the built site in headless Chromium.

MkDocs and the examples' clients live in their own virtualenv, ``.venv-docs``
(``make docs-venv``); these tests run it as a subprocess, whatever interpreter runs pytest."""

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

if importlib.util.find_spec("selenium") and shutil.which("chromium") and shutil.which(
        "chromedriver"):  # else test_site_browser.py fails, saying what to install
    # The /docs page test's browser: headless, every host name but 127.0.0.1 unresolvable.
    from tests.browser.test_docs_page import browser  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
DOCS_VENV = REPO / ".venv-docs"
DOCS_PYTHON = DOCS_VENV / "bin" / "python"


def docs_python() -> str:
    """The docs virtualenv's interpreter; the test fails (not skips) when it is missing."""
    if not DOCS_PYTHON.exists():
        pytest.fail("%s is missing: run make docs-venv" % DOCS_PYTHON, pytrace=False)
    return str(DOCS_PYTHON)


def build_site(destination: Path, prelude: str = "") -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of this checkout into ``destination``; ``prelude`` is Python
    run first in the same process (a test adds a setting to the code with it)."""
    script = prelude + (
        "\nimport sys\nfrom mkdocs.__main__ import cli\n"
        "sys.exit(cli(['build', '--strict', '--quiet', '-f', %r, '-d', %r]))\n"
        % (str(REPO / "mkdocs.yml"), str(destination)))
    return subprocess.run([docs_python(), "-c", script], cwd=str(REPO), timeout=300,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1",
                               "PYTHONDONTWRITEBYTECODE": "1"})


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site, built once per session."""
    destination = tmp_path_factory.mktemp("site")
    done = build_site(destination)
    assert done.returncode == 0, done.stdout.decode(errors="replace")
    return destination
