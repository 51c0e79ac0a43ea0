"""modelkiln's file jobs on a GPPI folder against ODAHU's docker-cli image's commands.

ODAHU's docker-cli packager cannot itself run here: its ``pipeline.work`` imports
``odahuflow.sdk.models`` (not in the tarball: only the SDK's ``gppi`` package is) and ends in a
``docker build`` FROM ``odahu/odahu-flow-docker-packager-base``, an image no registry here
serves. What its image runs is in the tarball, though, and needs only the standard library and
numpy: the console script ``invoke`` is ``odahuflow.sdk.gppi.entrypoint_invoke.main`` (copied by
the packager into the package ``odahuflow`` as ``entrypoint_invoker.py``), with
``MODEL_LOCATION`` (the work dir) and ``MODEL_ENTRYPOINT`` set as its Dockerfile sets them. So
``docker run IMAGE predict IN OUTDIR`` is ``python -m odahuflow.entrypoint_invoker predict IN
OUTDIR`` here (``info`` likewise), from .venv-odahu; modelkiln's side is ``python -m
python_runtime.jobs predict DIR IN OUTDIR`` (what ``modelkiln predict`` and the image's
``predict`` run) on the same folder.

Compared: whether the job succeeded (exit status 0 or not; ODAHU exits 1 on a failure,
modelkiln 2), the JSON of ``OUTDIR/results.json`` (or the ``--output_file_name``), no file
after a failure (on modelkiln's side: ODAHU's invoker leaves the part json.dump wrote before
it raised; modelkiln writes its answer whole or not at all), the invoker's success line or its error message in modelkiln's output, and
``info``'s standard output, character for character.
"""

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

import pytest

from tests.compat.exchange import _canon_numbers

from .cases import DEPLOYMENT_BY_NAME
from .intentional import CLI_DIFFERENCES
from .servers import (INVOKER, REPO_ROOT, base_env, candidate_kind, model_folder,
                      odahu_executable, odahu_identity, odahu_source)

pytestmark = pytest.mark.compat

RESULTS = "results.json"
SUCCESS = "Prediction is successful. Result file: %s"


@dataclass(frozen=True)
class CliCase:
    id: str
    deployment: str
    body: Any
    args: List[str] = field(default_factory=list)   # after IN OUTDIR
    note: str = ""


CLI_CASES: List[CliCase] = [
    CliCase("cli-numpy-float64", "numpy", {"columns": ["kind"], "data": [["float64"]]}),
    CliCase("cli-numpy-int64", "numpy", {"data": [["int64"]]}),
    CliCase("cli-numpy-float32", "numpy", {"data": [["float32"]]},
            note="tolist() first: float32 values as their float64 spelling"),
    CliCase("cli-numpy-float16", "numpy", {"data": [["float16"]]}),
    CliCase("cli-numpy-str", "numpy", {"data": [["str"]]}),
    CliCase("cli-numpy-fortran", "numpy", {"data": [["fortran"]]}),
    CliCase("cli-numpy-zero-d", "numpy", {"data": [["zero-d"]]}),
    CliCase("cli-numpy-nan", "numpy", {"data": [["nan"]]},
            note="json.dump writes NaN and Infinity"),
    CliCase("cli-numpy-complex", "numpy", {"data": [["complex"]]},
            note="the entrypoint's JSON serializer writes complex numbers"),
    CliCase("cli-numpy-datetime64", "numpy", {"data": [["datetime64"]]},
            note="tolist() gives dates, which neither json nor the serializer writes"),
    CliCase("cli-numpy-file-name", "numpy", {"data": [["int32"]]},
            args=["--output_file_name", "answer.json"]),
    CliCase("cli-numpy-no-data", "numpy", {"columns": ["kind"]}),
    CliCase("cli-faulty-value-error", "faulty", {"data": [["value-error", 1]]}),
    CliCase("cli-faulty-custom", "faulty", {"data": [["custom"]]}),
    CliCase("cli-table-ints", "table", {"columns": ["a", "b", "label"], "data": [[1, 2, "x"]]}),
    CliCase("cli-valid-gppi", "valid-gppi", {"columns": ["a", "b"], "data": [["1", "2"]]}),
    CliCase("cli-objects", "objects", {"data": [[1]]}),
    CliCase("cli-unknown-mode", "unknown-mode", {"data": [[1]]}),
]
INFO_DEPLOYMENTS = ["valid-gppi", "table", "echo", "numpy"]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    results: Optional[Any]   # the parsed output file, None when there is none

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def invoker_package(root: Path) -> Path:
    """The ``odahuflow`` package ODAHU's docker-cli packager writes into its image: an empty
    ``__init__.py`` and the SDK's entrypoint_invoke.py as ``entrypoint_invoker.py``."""
    package = root / "odahuflow"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "entrypoint_invoker.py").write_bytes((odahu_source() / INVOKER).read_bytes())
    return root


def command(kind: str, folder: Path, args: List[str], tmp: Path):
    """(argv, env) of one CLI call; ``args`` as a user gives them to the image."""
    env = base_env()
    if kind == "odahu":
        odahu_executable()
        identity = odahu_identity(folder)
        env.update(PYTHONPATH=str(invoker_package(tmp / "invoker")),
                   MODEL_LOCATION=identity["work_dir"], MODEL_ENTRYPOINT=identity["entrypoint"],
                   ODAHU_MODEL_NAME=identity["ODAHU_MODEL_NAME"],
                   ODAHU_MODEL_VERSION=identity["ODAHU_MODEL_VERSION"])
        python = str(odahu_executable().parent / "python")
        return [python, "-m", "odahuflow.entrypoint_invoker"] + args, env
    env["PYTHONPATH"] = str(REPO_ROOT)
    return [sys.executable, "-m", "python_runtime.jobs", args[0], str(folder)] + args[1:], env


def run(kind: str, folder: Path, args: List[str], tmp: Path, results: Optional[Path]) -> Run:
    argv, env = command(kind, folder, args, tmp)
    done = subprocess.run(argv, cwd=str(tmp), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    parsed = None
    if results is not None and results.exists():
        text = results.read_text()
        try:  # Python's json reads NaN and Infinity, which json.dump writes by default
            parsed = _canon_numbers(json.loads(text))
        except ValueError:  # json.dump raised halfway: the invoker leaves what it wrote
            parsed = {"<not JSON>": text}
    return Run(done.returncode, done.stdout, done.stderr, parsed)


def predict(kind: str, case: CliCase, work: Path) -> Run:
    (work / "out").mkdir(parents=True)
    source = work / "in.json"
    source.write_text(json.dumps(case.body))
    name = case.args[case.args.index("--output_file_name") + 1] if case.args else RESULTS
    return run(kind, model_folder(DEPLOYMENT_BY_NAME[case.deployment]),
               ["predict", str(source), str(work / "out")] + case.args, work,
               work / "out" / name)


def cli_error(text: str) -> Optional[str]:
    """The message of the invoker's CliError (the last line of its traceback)."""
    found = re.findall(r"^\S*CliError: (.*)$", text, re.M)
    return found[-1] if found else None


def show(label: str, answer: Run) -> str:
    return "--- %s: exit %d ---\nresults: %s\nstdout:\n%s\nstderr:\n%s" % (
        label, answer.code, json.dumps(answer.results), answer.stdout[-1500:],
        answer.stderr[-1500:])


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_predict_as_odahus_cli_image(case, tmp_path):
    label = candidate_kind()
    oracle = predict("odahu", case, tmp_path / "oracle")
    cand = predict(label, case, tmp_path / "candidate")
    shown = "\n%s\n%s" % (show("odahu", oracle), show(label, cand))
    out = tmp_path / "candidate" / "out"
    diff = CLI_DIFFERENCES.get(case.id)
    if diff is not None:
        why, crash, expected = diff
        assert oracle.code != 0 and crash in oracle.stderr, (
            "%s is listed in CLI_DIFFERENCES (%s) but ODAHU's invoker no longer fails with %r:"
            " remove it%s" % (case.id, why, crash, shown))
        if label != "odahu":
            assert (cand.code, cand.results) == (0, expected), (
                "%s: modelkiln should write %s (%s)%s" % (case.id, expected, why, shown))
            return
    assert (oracle.code == 0) == (cand.code == 0), "success differs%s" % shown
    if oracle.code == 0:
        assert cand.results == oracle.results, "results differ%s" % shown
        target = out / (case.args[-1] if case.args else RESULTS)
        assert SUCCESS % target in cand.output, shown
    elif label == "odahu":
        assert cand.results == oracle.results, "results differ%s" % shown
    else:
        assert sorted(os.listdir(str(out))) == [], "a failed job left %s%s" % (
            os.listdir(str(out)), shown)
        message = cli_error(oracle.stderr)
        if message is not None:  # the invoker's own error (not a crash of Python's)
            assert message in cand.output, "the invoker's message %r is not in %s's output%s" % (
                message, label, shown)


@pytest.mark.parametrize("name", INFO_DEPLOYMENTS)
def test_info_as_odahus_cli_image(name, tmp_path):
    label = candidate_kind()
    folder = model_folder(DEPLOYMENT_BY_NAME[name])
    (tmp_path / "oracle").mkdir()
    (tmp_path / "candidate").mkdir()
    oracle = run("odahu", folder, ["info"], tmp_path / "oracle", None)
    cand = run(label, folder, ["info"], tmp_path / "candidate", None)
    assert oracle.code == 0, oracle.output
    assert oracle.stdout.startswith("Input schema:\n"), oracle.stdout
    assert (cand.code, cand.stdout) == (0, oracle.stdout), "\n%s\n%s" % (
        show("odahu", oracle), show(label, cand))
