"""Differential tests: the same requests to seldon-core 1.18 and to modelkiln.

Run with ``make test-compat`` (or ``.venv/bin/python -m pytest tests/compat``).
``MODELKILN_COMPAT_CANDIDATE=seldon`` compares seldon with itself (harness self-check).
"""

import subprocess
import sys
import time

import pytest

from .cases import CASES, DEPLOYMENT_BY_NAME, DEPLOYMENTS, cases_in_deployment_order
from .exchange import (canonical, describe_request, expected_normalised, explain, normalise, same,
                       send, show_answer)
from .intentional import INTENTIONAL_DIFFERENCES
from .servers import (MODELS_DIR, REPO_ROOT, candidate_kind, modelkiln_server,
                      seldon_venv, started_or_fail)
from .tables import check_case_table

pytestmark = pytest.mark.compat

# Deployments modelkiln refuses to start on purpose run only in the seldon self-check.
ORDERED = [c for c in cases_in_deployment_order()
           if candidate_kind() == "seldon"
           or not DEPLOYMENT_BY_NAME[c.deployment].refused_by_modelkiln]
REFUSED = [d for d in DEPLOYMENTS if d.refused_by_modelkiln]


@pytest.mark.parametrize("case", ORDERED, ids=[c.id for c in ORDERED])
def test_same_answer_as_seldon(case, server_pool):
    dep = DEPLOYMENT_BY_NAME[case.deployment]
    oracle_url, cand_url = started_or_fail(server_pool.urls, dep)
    compare(case, dep, oracle_url, cand_url, candidate_kind())


def compare(case, dep, oracle_url, cand_url, label):
    """Fail unless the candidate answers ``case`` as seldon does (or as intentional.py says)."""
    cand = send(cand_url, case)
    cand_n = normalise(cand, case, dep)

    diff = INTENTIONAL_DIFFERENCES.get(case.id)
    if diff is not None and label != "seldon":
        expected = expected_normalised(diff, case, dep)
        got = (cand_n[0],) if diff.status_only else cand_n
        if not same(got, expected):
            pytest.fail(
                "\n%s is an intentional difference (%s) but modelkiln's answer is not the one "
                "recorded in intentional.py\n--- request ---\n%s\n--- modelkiln ---\n%s\n"
                "--- expected (compared) ---\n%s\n--- got (compared) ---\n%s"
                % (case.id, diff.reason, describe_request(case), show_answer(cand),
                   canonical(expected), canonical(got)),
                pytrace=False)
        return

    oracle = send(oracle_url, case)
    oracle_n = normalise(oracle, case, dep)
    if not same(oracle_n, cand_n):
        pytest.fail(explain(case, oracle, cand, oracle_n, cand_n, label), pytrace=False)


def test_case_table_is_consistent():
    check_case_table(CASES, DEPLOYMENTS, INTENTIONAL_DIFFERENCES, "INTENTIONAL_DIFFERENCES")
    for c in CASES:
        assert c.send in ("json", "form", "query", "multipart", "raw", "none"), c.id
        assert c.compare in ("exact", "status"), c.id


SELDON_STYLE = [c for c in ORDERED if c.deployment == "seldon-style"]


def test_seldon_style_class_with_the_real_seldon_core_installed(server_pool, tmp_path):
    """The same seldon_core-importing class, served by modelkiln from an interpreter where the
    real seldon-core is installed (the oracle's venv): the real package is the one imported,
    and the answers are still seldon-core's own."""
    python = str(seldon_venv() / "bin" / "python")
    dep = DEPLOYMENT_BY_NAME["seldon-style"]
    which = subprocess.run(
        [python, "-c", "from python_runtime.model import seldon_compat; seldon_compat.install(); "
                       "import seldon_core.user_model as m; print(m.__file__)"],
        stdout=subprocess.PIPE, universal_newlines=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)})
    assert which.returncode == 0
    assert which.stdout.strip().startswith(str(seldon_venv())), which.stdout
    server = modelkiln_server(dep, "modelkiln-real-seldon-core", tmp_path)
    server.argv[0] = python
    server.start()
    try:
        server.wait_ready(time.monotonic() + 60)
        oracle_url, _ = started_or_fail(server_pool.urls, dep)
        for case in SELDON_STYLE:
            compare(case, dep, oracle_url, server.base_url, "modelkiln+seldon-core")
        assert len(SELDON_STYLE) >= 8
    finally:
        server.stop()


@pytest.mark.parametrize("dep", REFUSED, ids=[d.name for d in REFUSED])
def test_modelkiln_refuses_to_start(dep):
    """Seldon serves a class that lacks its SERVICE_TYPE's method; modelkiln stops at once
    with the reason (see intentional.py)."""
    argv = [sys.executable, "-m", "python_runtime", dep.model, "--service-type",
            dep.service_type, "--http-port", "0", "--metrics-port", "0"]
    done = subprocess.run(argv, cwd=str(MODELS_DIR), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 1, done.stderr.decode()
    assert ("ERROR: " + dep.refused_by_modelkiln) in done.stderr.decode()


def test_readme_lists_every_intentional_difference():
    from .intentional import REASONS

    readme = (REPO_ROOT / "README.md").read_text()
    missing = [reason for reason in REASONS if reason not in readme]
    assert not missing, "README.md does not list these intentional differences: %s" % missing
    used = {d.reason for d in INTENTIONAL_DIFFERENCES.values()}
    assert used <= set(REASONS), "intentional.py uses a reason missing from REASONS"
