"""Differential tests: the same requests to ODAHU's docker-rest handler and to modelkiln.

Run with ``make test-compat-gppi`` (or ``.venv/bin/python -m pytest tests/compat_gppi``).
``MODELKILN_GPPI_CANDIDATE=odahu`` compares the handler with itself (harness self-check).
"""

import time

import pytest

from tests.compat.servers import ServerFailed, started_or_fail
from tests.compat.tables import check_case_table

from .cases import (CASES, DEPLOYMENT_BY_NAME, DEPLOYMENTS, NOT_SERVED, Deployment,
                    cases_in_deployment_order)
from .exchange import explain, message, normalise, same, send
from .intentional import DIFFERENCES
from .servers import (EXAMPLES, OWN_MODELS, PROJECT, candidate_kind, model_folder, modelkiln_server,
                      odahu_executable, odahu_server, odahu_source)

pytestmark = pytest.mark.compat

ORDERED = cases_in_deployment_order()


def check_entry_still_holds(case, diff, oracle):
    """The handler still answers as the intentional.py entry says (else the entry is stale)."""
    stale = "%s is listed in intentional.py (%s) but the handler answered %d %s: fix the entry" % (
        case.id, diff.why, oracle.status, oracle.text[:300])
    if diff.status_only or diff.body is not None:
        assert oracle.content_type.startswith("text/html") and not oracle.is_json, stale
    if diff.status is not None:
        assert oracle.status == 500 and oracle.status != diff.status, stale
    if diff.status is not None and diff.body is None:
        assert message(oracle) is not None, stale
    if diff.prefix is not None:
        assert (message(oracle) or "").startswith(diff.prefix), stale


@pytest.mark.parametrize("case", ORDERED, ids=[c.id for c in ORDERED])
def test_same_answer_as_odahu(case, server_pool):
    label = candidate_kind()
    oracle_url, cand_url = started_or_fail(server_pool.urls, DEPLOYMENT_BY_NAME[case.deployment])
    oracle = send(oracle_url, case)
    cand = send(cand_url, case)
    diff = DIFFERENCES.get(case.id)
    if diff is not None:
        check_entry_still_holds(case, diff, oracle)
    if diff is not None and label != "odahu" and diff.body is not None:
        expected = (diff.status or oracle.status, "application/json", diff.body)
        assert (cand.status, cand.content_type, cand.json) == expected, (
            "%s: modelkiln should answer %s (%s), and answered %d %s %s"
            % (case.id, expected, diff.why, cand.status, cand.content_type, cand.text))
        return
    if diff is None or label == "odahu":
        oracle_n, cand_n = normalise(oracle), normalise(cand)
    else:
        oracle_n = normalise(oracle, diff.status_only, diff.prefix, status=diff.status)
        cand_n = normalise(cand, diff.status_only, diff.prefix)
    if not same(oracle_n, cand_n):
        pytest.fail(explain(case, oracle, cand, oracle_n, cand_n, label)
                    + ("(compared as intentional.py says: %s)\n" % diff.why
                       if diff is not None and label != "odahu" else ""), pytrace=False)


def test_case_table_is_consistent():
    check_case_table(CASES, DEPLOYMENTS, DIFFERENCES)
    for c in CASES:
        assert c.send in ("json", "raw", "none"), c.id
        assert c.content_type is None or c.send == "raw", c.id
    own = {d.folder for d in DEPLOYMENTS if d.source == "suite"}
    assert own == {p.name for p in OWN_MODELS.iterdir() if (p / PROJECT).is_file()}


def test_every_odahu_gppi_folder_is_served_or_not_served_with_a_reason():
    odahu_executable()  # fails with the fix when make odahu-venv has not run
    root = odahu_source() / EXAMPLES
    folders = {str(p.parent.relative_to(root)) for p in root.rglob(PROJECT)}
    served = {d.folder for d in DEPLOYMENTS if d.source == "odahu"}
    assert folders == served | set(NOT_SERVED), (
        "ODAHU's GPPI folders %s; served %s; not served %s"
        % (sorted(folders), sorted(served), sorted(NOT_SERVED)))
    assert not served & set(NOT_SERVED)


LIB_MISSED = Deployment("lib-missed", sorted(NOT_SERVED)[0], source="odahu")


def test_a_folder_whose_init_raises_is_not_served(tmp_path):
    """ODAHU's mlflow_gppi_lib_missed: init() raises ImportError. The handler's module
    calls init() at import, so gunicorn's worker cannot boot and gunicorn exits; modelkiln
    must not serve it either: it exits, or stays unready and answers invoke with 503."""
    oracle = odahu_server(LIB_MISSED, "odahu-lib-missed", tmp_path)
    oracle.start()
    try:
        with pytest.raises(ServerFailed, match="exited"):
            oracle.wait_ready(time.monotonic() + 60)
        assert "init with import error" in oracle.log_tail(200)
    finally:
        oracle.stop()
    if candidate_kind() == "odahu":
        return
    cand = modelkiln_server(LIB_MISSED, "modelkiln-lib-missed", tmp_path)
    cand.start()
    try:
        import requests

        deadline = time.monotonic() + 30
        answer = None
        while time.monotonic() < deadline and cand.proc.poll() is None:
            try:
                answer = requests.post(cand.base_url + "/api/model/invoke",
                                       json={"data": [[1]]}, timeout=5)
                if answer.status_code != 503 or "ImportError" in answer.text:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        log = cand.log_tail(200)
        if cand.proc.poll() is not None:
            assert cand.proc.returncode != 0, log
        else:
            assert answer is not None and answer.status_code == 503, (
                answer and (answer.status_code, answer.text), log)
        assert "ImportError" in log, log
    finally:
        cand.stop()
    assert model_folder(LIB_MISSED).is_dir()
