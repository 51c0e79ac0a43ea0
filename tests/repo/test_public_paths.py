"""The runtime's public paths keep working whatever the package layout: what user code
imports, every ``python -m python_runtime...`` that s2i, the Dockerfiles, the Makefile and
users' scripts run, and the ``seldon_core`` names Seldon models import."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "repo"))
from test_entry_points import module_runs, script_id  # noqa: E402

# Run by s2i/bin/run, the Dockerfiles and the Makefile (found below), or documented for
# users' manifests and scripts: each with arguments that make it print its usage and exit 0.
DOCUMENTED = {
    "python_runtime": ["--help"],
    "python_runtime.jobs": ["--help"],
    "python_runtime.batch": ["--help"],
    "python_runtime.jobs.batch": ["--help"],
    "python_runtime.slim": ["--help"],
    "python_runtime.gpu": ["--help"],
}


def run_module(name, args):
    return subprocess.run([sys.executable, "-m", name] + args, cwd=str(REPO),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120)


def test_response_is_importable_where_user_code_imports_it():
    from python_runtime.model.response import Response as Inside
    from python_runtime.response import Response, unpack

    assert Response is Inside
    data, tags, metrics = unpack(Response([1, 2], tags={"a": "b"},
                                          metrics=[{"key": "k", "type": "COUNTER", "value": 1}]))
    assert data == [1, 2] and tags == {"a": "b"}
    assert metrics == [{"key": "k", "type": "COUNTER", "value": 1}]


def test_the_scripts_run_only_documented_runtime_modules():
    ran = {name for _, _, name in module_runs() if name.startswith("python_runtime")}
    assert ran, "the scripts no longer run any python_runtime module: update this test"
    undocumented = ran - set(DOCUMENTED) - {"python_runtime.protocols.docs"}
    assert not undocumented, (
        "scripts run %s: add it to DOCUMENTED here, with arguments that print its usage"
        % sorted(undocumented))


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_every_public_module_runs(name):
    done = run_module(name, DOCUMENTED[name])
    assert done.returncode == 0, done.stdout
    assert "usage:" in done.stdout, done.stdout


def test_the_docs_vendoring_command_names_its_usage():
    # Dockerfile.* run it with a wheel; without arguments it says how to call it.
    done = run_module("python_runtime.protocols.docs", [])
    assert done.returncode == 1
    assert "usage: python -m python_runtime.protocols.docs --vendor WHEEL FOLDER" in done.stdout


def test_every_script_run_of_a_runtime_module_names_an_existing_one():
    for script, number, name in module_runs():
        if name.startswith("python_runtime"):
            assert name in DOCUMENTED or name == "python_runtime.protocols.docs", (
                "%s:%d runs python -m %s" % (script_id(script), number, name))


def test_seldon_core_names_that_seldon_models_import(tmp_path):
    # The stand-in answers ``import seldon_core`` when seldon-core is not installed (it is
    # not, in this virtualenv's runtime dependencies); a fresh interpreter, as in an image.
    script = ("import sys; sys.path.insert(0, %r)\n"
              "from python_runtime.model import seldon_compat\n"
              "seldon_compat.install()\n"
              "from seldon_core.user_model import SeldonComponent, SeldonResponse, "
              "SeldonNotImplementedError\n"
              "from seldon_core.flask_utils import SeldonMicroserviceException\n"
              "import seldon_core\n"
              "print(issubclass(SeldonNotImplementedError, SeldonMicroserviceException), "
              "SeldonResponse([1]).data, seldon_core.__name__)\n" % str(REPO))
    done = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=60)
    assert done.returncode == 0, done.stdout
    assert done.stdout.split() == ["True", "[1]", "seldon_core"], done.stdout
