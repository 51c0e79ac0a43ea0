"""Differential tests: the same requests to catwalk's own server and to modelkiln.

Run with ``make test-compat-catwalk`` (or ``.venv/bin/python -m pytest tests/compat_catwalk``).
``MODELKILN_CATWALK_CANDIDATE=catwalk`` compares catwalk with itself (harness self-check).
"""

import subprocess
import uuid

import pytest

from tests.compat.servers import started_or_fail
from tests.compat.tables import check_case_table

from .cases import CASES, DEPLOYMENT_BY_NAME, DEPLOYMENTS, LEFT_OUT, cases_in_deployment_order
from .exchange import GENERATED_ID, Answer, explain, normalise, same, send
from .intentional import DIFFERENT, INTENTIONAL
from .servers import OWN_MODELS, candidate_kind, catwalk_executable, catwalk_source

pytestmark = pytest.mark.compat

ORDERED = cases_in_deployment_order()


@pytest.mark.parametrize("case", ORDERED, ids=[c.id for c in ORDERED])
def test_same_answer_as_catwalk(case, server_pool):
    label = candidate_kind()
    dep = DEPLOYMENT_BY_NAME[case.deployment]
    oracle_url, cand_url = started_or_fail(server_pool.urls, dep)
    oracle = send(oracle_url, case)
    cand = send(cand_url, case)

    if case.id in DIFFERENT and label != "catwalk":
        why, status, body = DIFFERENT[case.id]
        assert (cand.status, cand.content_type, cand.json) == (status, "application/json", body), (
            "%s: modelkiln should answer %d %s (%s), and answered %d %s"
            % (case.id, status, body, why, cand.status, cand.text))
        assert normalise(oracle, case) != normalise(cand, case), (
            "%s is listed in DIFFERENT but catwalk answers the same now: remove it" % case.id)
        return
    reason = INTENTIONAL.get(case.id)
    if reason is not None:
        assert oracle.content_type.startswith("text/html") and not oracle.is_json, (
            "%s is listed in intentional.py (%s) but catwalk answered %d %s: remove the entry"
            % (case.id, reason, oracle.status, oracle.content_type))
    status_only = reason is not None and label != "catwalk"
    oracle_n = normalise(oracle, case, status_only)
    cand_n = normalise(cand, case, status_only)
    if not same(oracle_n, cand_n):
        pytest.fail(explain(case, oracle, cand, oracle_n, cand_n, label)
                    + ("(status compared only: %s)\n" % reason if status_only else ""),
                    pytrace=False)


def test_case_table_is_consistent():
    check_case_table(CASES, DEPLOYMENTS, set(INTENTIONAL) | set(DIFFERENT))
    for c in CASES:
        assert c.send in ("json", "raw", "none"), c.id
        assert c.content_type is None or c.send == "raw", c.id
    own = {d.folder for d in DEPLOYMENTS if d.source == "suite"}
    assert own == {p.name for p in OWN_MODELS.iterdir() if (p / "model.yml").is_file()}


def test_every_catwalk_model_folder_is_served_or_left_out_with_a_reason():
    catwalk_executable()  # fails with the fix when make catwalk-venv has not run
    root = catwalk_source()
    folders = {str(p.parent.relative_to(root)) for p in root.glob("*/*/model.yml")}
    served = {d.folder for d in DEPLOYMENTS if d.source == "catwalk"}
    assert folders == served | set(LEFT_OUT), (
        "catwalk's model folders %s; served %s; left out %s"
        % (sorted(folders), sorted(served), sorted(LEFT_OUT)))
    assert not served & set(LEFT_OUT)


SKLEARN_PROBE = """
import sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, ".")
import sklearn
from model import Model
model = Model(".")
features, targets = model.load_test_data(".")
try:
    model.predict(features[0])
except AttributeError as exc:
    print("AttributeError", exc, "with scikit-learn", sklearn.__version__)
else:
    print("PREDICTS with scikit-learn", sklearn.__version__)
"""


def test_sklearn_tutorial_is_still_left_out_for_its_reason():
    """LEFT_OUT says why tutorials/sklearn is not served; this keeps the reason true."""
    python = catwalk_executable().parent / "python"
    folder = catwalk_source() / "tutorials" / "sklearn"
    done = subprocess.run([str(python), "-c", SKLEARN_PROBE], cwd=str(folder), timeout=120,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env={"PATH": "/usr/bin:/bin",
                                                        "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stdout
    assert "PREDICTS" not in done.stdout, (
        "tutorials/sklearn predicts now (%s): serve it (a Deployment in cases.py) and drop it "
        "from LEFT_OUT" % done.stdout.strip())
    assert "no attribute 'positive'" in done.stdout, done.stdout


def test_generated_correlation_ids_must_be_uuid4():
    case = next(c for c in CASES if c.id == "rng-input-only")
    ok = str(uuid.uuid4())
    for value, generated in [(ok, True), (ok.upper(), False), (ok.replace("-", ""), False),
                             (str(uuid.uuid1()), False), (1, False), ("", False)]:
        answer = Answer(200, "application/json", "", b"", {"correlation_id": value}, True)
        assert (normalise(answer, case)[3]["correlation_id"] == GENERATED_ID) is generated, value
    sent = next(c for c in CASES if c.id == "rng-correlation-id")
    answer = Answer(200, "application/json", "", b"", {"correlation_id": ok}, True)
    assert normalise(answer, sent)[3]["correlation_id"] == ok  # sent ids are compared as they are
