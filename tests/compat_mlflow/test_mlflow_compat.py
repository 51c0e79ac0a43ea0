"""Differential tests: the same requests to `mlflow models serve` and to modelkiln.

Run with ``make test-compat-mlflow`` (or ``.venv-mlflow-skinny/bin/python -m pytest
tests/compat_mlflow``). ``MODELKILN_MLFLOW_CANDIDATE=mlflow`` compares MLflow with itself
(harness self-check).
"""

import pytest

from tests.compat.servers import started_or_fail
from tests.compat.tables import check_case_table

from .cases import CASES, DEPLOYMENT_BY_NAME, DEPLOYMENTS, cases_in_deployment_order
from .exchange import Answer, explain, last_line, normalise, same, send
from .intentional import DIFFERENT
from .make_models import MODELS
from .servers import candidate_kind

pytestmark = pytest.mark.compat

ORDERED = cases_in_deployment_order()


@pytest.mark.parametrize("case", ORDERED, ids=[c.id for c in ORDERED])
def test_same_answer_as_mlflow(case, server_pool):
    label = candidate_kind()
    dep = DEPLOYMENT_BY_NAME[case.deployment]
    oracle_url, cand_url = started_or_fail(server_pool.urls, dep)
    oracle = send(oracle_url, case)
    cand = send(cand_url, case)

    if case.id in DIFFERENT and label != "mlflow":
        why, status, content_type, body = DIFFERENT[case.id]
        got = cand.json if cand.is_json else cand.text
        assert (cand.status, cand.content_type, got) == (status, content_type, body), (
            "%s: modelkiln should answer %d %s %r (%s), and answered %d %s %r"
            % (case.id, status, content_type, body, why, cand.status, cand.content_type,
               cand.text))
        assert normalise(oracle, case) != normalise(cand, case), (
            "%s is listed in DIFFERENT but mlflow answers the same now: remove it" % case.id)
        return
    oracle_n = normalise(oracle, case)
    cand_n = normalise(cand, case)
    if not same(oracle_n, cand_n):
        pytest.fail(explain(case, oracle, cand, oracle_n, cand_n, label), pytrace=False)


def test_case_table_is_consistent():
    check_case_table(CASES, DEPLOYMENTS, DIFFERENT)
    assert set(DEPLOYMENT_BY_NAME) == set(MODELS), "every folder make_models.py writes is served"
    for c in CASES:
        assert c.send in ("json", "raw", "none"), c.id
        assert c.content_type is None or c.send == "raw", c.id


def test_stack_traces_are_compared_by_their_last_line():
    case = CASES[0]
    trace = 'Traceback (most recent call last):\n  File "/a/b.py", line 1\nValueError: bad\n'
    answer = Answer(400, "application/json", "", b"", {"stack_trace": trace, "x": 1}, True)
    assert normalise(answer, case)[3] == {"stack_trace": "ValueError: bad", "x": 1}
    assert last_line(None) is None

