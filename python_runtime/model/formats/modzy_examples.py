"""The Modzy template's test data run through a loaded ``ModzyModel``, case by case, with
the verdicts the template's own ``AutoAppTestCase`` gives (``formats.modzy.run_examples``
loads the model and calls ``run_cases``):

- ``tests/data/examples/<case>/`` (the template's code says ``example``: both are read): the
  input files and the expected output files; a ``.json`` output is compared as JSON, any other
  byte for byte;
- ``tests/data/validation-error/<case>/``: the input files and ``message.txt``, text the
  model's 422 message must hold (stripped, whatever the case).

A case names a file by its name or its name without extension, or by a folder of that name
holding exactly one file.
"""

import json
import os
import shutil
import tempfile
from typing import Dict, List, Optional, Tuple

from ...errors import MicroserviceError, clipped
from .modzy_model import ModelRefused, ModzyModel, is_json

TEST_DATA = os.path.join("tests", "data")
EXAMPLE_SUITES = ("examples", "example")
ERROR_SUITE = "validation-error"
MESSAGE_FILE = "message.txt"


def case_files(case: str) -> Dict[str, str]:
    """A case's files by name and by name without extension."""
    found = {}  # type: Dict[str, str]
    for entry in sorted(os.listdir(case)):
        path = os.path.join(case, entry)
        if os.path.isdir(path):
            inside = os.listdir(path)
            if len(inside) != 1:
                raise ValueError("%s must hold exactly one file" % path)
            path = os.path.join(path, inside[0])
        found[entry] = path
        found.setdefault(os.path.splitext(entry)[0], path)
    return found


def case_file(files: Dict[str, str], name: str, what: str) -> str:
    path = files.get(name) or files.get(os.path.splitext(name)[0])
    if path is None:
        raise ValueError("no %s file %s" % (what, name))
    return path


def same_content(name: str, actual: bytes, expected: bytes) -> bool:
    if is_json(name):
        try:
            return json.loads(actual.decode("utf-8")) == json.loads(expected.decode("utf-8"))
        except ValueError:
            pass
    return actual == expected


def run_case(model: ModzyModel, files: Dict[str, str], work: str) -> List[str]:
    """Run the model on the case's inputs (copied into ``work`` under the model's names):
    the output paths, or the job's MicroserviceError raised."""
    source, target = os.path.join(work, "input"), os.path.join(work, "output")
    os.makedirs(source)
    for name in model.inputs:
        shutil.copyfile(case_file(files, name, "input"), os.path.join(source, name))
    return model.run_folder(source, target)


def check_example(model: ModzyModel, case: str) -> Optional[str]:
    """None when the case's outputs are as expected; else what went wrong."""
    files = case_files(case)
    with tempfile.TemporaryDirectory(prefix="modelkiln-example-") as work:
        try:
            outputs = run_case(model, files, work)
        except MicroserviceError as exc:
            return "the model answered %d: %s" % (exc.status_code, exc.message)
        for name, path in zip(model.outputs, outputs):
            with open(case_file(files, name, "expected output"), "rb") as handle:
                expected = handle.read()
            with open(path, "rb") as handle:
                actual = handle.read()
            if not same_content(name, actual, expected):
                return "%s differs: expected %s, got %s" % (
                    name, clipped(expected.decode("utf-8", "replace")),
                    clipped(actual.decode("utf-8", "replace")))
    return None


def check_validation_error(model: ModzyModel, case: str) -> Optional[str]:
    """None when the model refuses the case's inputs (422) with a message that holds the
    expected text; else what happened."""
    files = case_files(case)
    with open(case_file(files, MESSAGE_FILE, "expected message"), "r",
              encoding="utf-8") as handle:
        expected = handle.read().strip()
    with tempfile.TemporaryDirectory(prefix="modelkiln-example-") as work:
        try:
            run_case(model, files, work)
        except ModelRefused as exc:
            if expected.lower() in exc.message.strip().lower():
                return None
            return "the 422 message %r does not hold %r" % (clipped(exc.message), expected)
        except MicroserviceError as exc:
            return "expected a validation error (422), the model answered %d: %s" % (
                exc.status_code, exc.message)
    return "expected a validation error (422), the model ran"


def suites(folder: str) -> List[Tuple[str, str]]:
    """(suite name, its folder) of the test data ``folder`` holds."""
    data = os.path.join(folder, TEST_DATA)
    return [(name, os.path.join(data, name)) for name in EXAMPLE_SUITES + (ERROR_SUITE,)
            if os.path.isdir(os.path.join(data, name))]


def run_cases(model: ModzyModel, folder: str) -> Tuple[int, int, List[str]]:
    """(passed, failed, a PASS or FAIL line per case) for the test data of ``folder``."""
    found = suites(folder)
    if not found:
        return 0, 1, ["FAIL no test data: %s holds neither examples/ nor %s/"
                      % (os.path.join(folder, TEST_DATA), ERROR_SUITE)]
    passed, failed, lines = 0, 0, []
    for suite, path in found:
        cases = sorted(entry for entry in os.listdir(path)
                       if os.path.isdir(os.path.join(path, entry)))
        if not cases:
            failed += 1
            lines.append("FAIL %s: no cases (a folder per case)" % suite)
        check = check_validation_error if suite == ERROR_SUITE else check_example
        for case in cases:
            try:
                problem = check(model, os.path.join(path, case))
            except (OSError, ValueError) as exc:
                problem = str(exc)
            if problem is None:
                passed += 1
                lines.append("PASS %s/%s" % (suite, case))
            else:
                failed += 1
                lines.append("FAIL %s/%s: %s" % (suite, case, problem))
    return passed, failed, lines
