"""Every module run with ``python -m`` and every repository path named by the build and CI
scripts exists.

A renamed module once broke the py36 stand-in on fresh machines while every machine with a
cached image stayed green (the script asked ``python3 -m builder.hostconfig``, moved to
``modelkiln_cli``). These tests read the scripts as text, so they fail at once, on any
machine, without building anything.
"""

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The scripts that build images, run CI and start things inside images.
SCRIPTS = sorted(
    [REPO / "Makefile", REPO / ".ci" / "run"]
    + list((REPO / "standins").glob("*.sh"))
    + list(REPO.glob("Dockerfile.*")) + list((REPO / "tests").glob("*.Dockerfile"))
    + [p for p in (REPO / "s2i" / "bin").iterdir() if p.is_file()])

# `-m NAME` after an interpreter: python3, $(PY), $(PYTHON), .../bin/python, "$MODELKILN_PYTHON"
MODULE_RUN = re.compile(r"(?:python[0-9.]*|\$\(PY(?:THON)?\)|PYTHON\"?)\s+-m\s+([A-Za-z_][\w.]*)")

# Modules of the interpreter or of a virtualenv a target makes, not of this repository.
FOREIGN = {"venv", "ensurepip", "pip", "pytest"}

# Names of the repository's own top-level folders and files (a path starting with one of them
# is a repository path).
TOP = {p.name for p in REPO.iterdir() if not p.name.startswith(".")} | {".ci"}
PATH_TOKEN = re.compile(r"(?<![\w/.$~{-])((?:\.ci|[A-Za-z_][\w.-]*)/[\w./*-]*[\w*-])")


def script_id(path):
    return str(path.relative_to(REPO))


def mentions(find):
    """(script, line number, item) for every item find(line) returns in the scripts."""
    for script in SCRIPTS:
        for number, line in enumerate(script.read_text().splitlines(), 1):
            for item in find(line):
                yield script, number, item


def param_id(value):
    return script_id(value) if isinstance(value, Path) else str(value)


def module_runs():
    return mentions(MODULE_RUN.findall)


def repo_module_exists(name):
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file() \
        or (base / "__main__.py").is_file()


def test_the_scripts_are_found():
    names = {script_id(p) for p in SCRIPTS}
    assert {"Makefile", ".ci/run", "standins/python36-base.sh", "standins/python311-base.sh",
            "Dockerfile.py311", "s2i/bin/run", "s2i/bin/assemble"} <= names
    # The pattern finds the runs the scripts are known to have.
    found = {name for _, _, name in module_runs()}
    assert {"modelkiln_cli.hostconfig", "python_runtime.jobs", "builder.assemble",
            "pytest", "venv"} <= found


@pytest.mark.parametrize("script,number,name", list(module_runs()),
                         ids=param_id)
def test_every_python_dash_m_module_exists(script, number, name):
    top = name.split(".")[0]
    if top in FOREIGN:
        assert importlib.util.find_spec(top) is not None, name
        return
    assert (REPO / top).exists(), (
        "%s:%d runs `python -m %s`, but %s is neither a folder of this repository nor one of "
        "the interpreter's modules %s" % (script_id(script), number, name, top, sorted(FOREIGN)))
    assert repo_module_exists(name), (
        "%s:%d runs `python -m %s`, which does not exist in this repository (renamed or moved?)"
        % (script_id(script), number, name))


def repo_paths():
    return mentions(lambda line: [token for token in PATH_TOKEN.findall(line)
                                  if token.split("/")[0] in TOP])


def test_the_path_pattern_finds_known_paths():
    found = {token for _, _, token in repo_paths()}
    assert {"standins/python36-base.sh", "tests/py36.Dockerfile", "requirements/test-v2.txt",
            "tests/compat/runtime_requirements.py", "requirements/runtime-py*.txt"} <= found


@pytest.mark.parametrize("script,number,path", list(repo_paths()),
                         ids=param_id)
def test_every_repository_path_named_by_a_script_exists(script, number, path):
    # Paths inside an image (/opt/app-root/src/...) never match: they start with "/".
    exists = any(REPO.glob(path)) if "*" in path else (REPO / path).exists()
    assert exists, "%s:%d names %s, which does not exist in this repository" % (
        script_id(script), number, path)


def test_every_image_input_of_ci_exists():
    """.ci/run keys `make test-full` on the git hashes of IMAGE_INPUTS; a path that does not
    exist would silently drop out of the key."""
    text = (REPO / ".ci" / "run").read_text()
    match = re.search(r"IMAGE_INPUTS=\(([^)]*)\)", text)
    assert match, ".ci/run no longer defines IMAGE_INPUTS"
    inputs = match.group(1).split()
    assert {"Dockerfile.py311", "python_runtime", "tests/images"} <= set(inputs)
    missing = [name for name in inputs if not (REPO / name).exists()]
    assert not missing, ".ci/run's IMAGE_INPUTS names %s, which do not exist" % missing
