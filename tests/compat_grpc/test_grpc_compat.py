"""Differential gRPC tests: the same calls to seldon-core 1.18's gRPC server and to
modelkiln's, with seldon-core's own stubs as the client.

Run with ``.venv-seldon/bin/python -m pytest tests/compat_grpc`` (see README.md here).
``MODELKILN_COMPAT_CANDIDATE=seldon`` compares seldon with itself (harness self-check).
"""

from pathlib import Path

import pytest
from seldon_core.proto import prediction_pb2

from ..compat.servers import candidate_kind, started_or_fail
from ..compat.tables import check_case_table
from .cases import (CASES, DEPLOYMENT_BY_NAME, DEPLOYMENTS, SERVICES, cases_in_deployment_order,
                    describe_request)
from .exchange import build_request, call, expected_answer, explain, normalise, same
from .intentional import INTENTIONAL_DIFFERENCES, REASONS
from .known_bugs import KNOWN_BUGS

pytestmark = pytest.mark.compat

ORDERED = cases_in_deployment_order()


@pytest.mark.parametrize("case", ORDERED, ids=[c.id for c in ORDERED])
def test_same_answer_as_seldon(case, grpc_pool):
    dep = DEPLOYMENT_BY_NAME[case.deployment]
    oracle_channel, cand_channel = started_or_fail(grpc_pool.channels, dep)
    label = candidate_kind()
    oracle = call(oracle_channel, case)
    cand = call(cand_channel, case)
    oracle_n = normalise(oracle, dep.exact_identity)
    cand_n = normalise(cand, dep.exact_identity)
    bug = KNOWN_BUGS.get(case.id)
    bug_note = "\nknown modelkiln bug (known_bugs.py): %s\n" % bug if bug else ""

    diff = INTENTIONAL_DIFFERENCES.get(case.id)
    if diff is not None and label == "modelkiln":
        expected = expected_answer(diff)
        expected_n = normalise(expected, dep.exact_identity)
        if same(oracle_n, cand_n):
            pytest.fail("\n%s is recorded as an intentional difference (%s) but modelkiln now "
                        "answers like seldon: remove it from intentional.py\n%s"
                        % (case.id, diff.reason, cand.show()), pytrace=False)
        if not same(cand_n, expected_n):
            pytest.fail(explain(
                "%s is an intentional difference (%s) but modelkiln's answer is not the one "
                "recorded in intentional.py" % (case.id, diff.reason), describe_request(case),
                ("expected (intentional.py)", expected), ("modelkiln", cand), expected_n,
                cand_n) + bug_note, pytrace=False)
        return
    if not same(oracle_n, cand_n):
        pytest.fail(explain("%s differs from seldon-core 1.18" % case.id, describe_request(case),
                            ("seldon", oracle), (label, cand), oracle_n, cand_n) + bug_note,
                    pytrace=False)


def test_case_table_is_consistent():
    check_case_table(CASES, DEPLOYMENTS, set(INTENTIONAL_DIFFERENCES) | set(KNOWN_BUGS),
                     "intentional.py / known_bugs.py")
    both = sorted(set(INTENTIONAL_DIFFERENCES) & set(KNOWN_BUGS))
    assert not both, "cases both intentional and known bugs: %s" % both
    for c in CASES:
        build_request(c)  # every request parses with seldon's classes


def test_every_service_and_method_is_called():
    """SERVICES is seldon's prediction.proto, and every method has at least one case."""
    declared = {s.name: [m.name for m in s.methods]
                for s in prediction_pb2.DESCRIPTOR.services_by_name.values()}
    assert declared == SERVICES
    called = {c.rpc for c in CASES}
    missing = sorted("%s.%s" % (s, m) for s, methods in SERVICES.items() for m in methods
                     if "%s.%s" % (s, m) not in called)
    assert not missing, "methods without a case: %s" % missing


def test_readme_lists_every_reason():
    readme = (Path(__file__).parent / "README.md").read_text()
    missing = [reason for reason in REASONS if reason not in readme]
    assert not missing, "tests/compat_grpc/README.md does not list: %s" % missing
    used = {d.reason for d in INTENTIONAL_DIFFERENCES.values()}
    assert used <= set(REASONS), "intentional.py uses a reason missing from REASONS"
    unused = [r for r in REASONS if r not in used]
    assert not unused, "REASONS not used by any entry: %s" % unused
