"""Write the oracle's answers, or the differences, as a Markdown report.

    python -m tests.compat.report oracle --out oracle.md   # seldon-core 1.18 answers, verbatim
    python -m tests.compat.report diff --out diff.md       # seldon vs modelkiln, each difference

Run from the repository root with the interpreter that runs the tests (``diff`` starts
modelkiln with it). Same cases, servers and comparison as the pytest suite.
"""

import argparse
import datetime
import sys
from typing import List, Optional

from .cases import DEPLOYMENT_BY_NAME, Deployment, cases_in_deployment_order
from .exchange import (Answer, canonical, describe_request, expected_normalised, normalise, same,
                       send, show_answer)
from .intentional import INTENTIONAL_DIFFERENCES
from .servers import OracleMissing, ServerFailed, ServerPool, candidate_kind, seldon_venv


def _fence(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return "%s\n%s\n%s" % (fence, text, fence)


def _dep_line(dep: Deployment) -> str:
    line = "deployment `%s`: class `%s`, service type %s" % (dep.name, dep.model, dep.service_type)
    if dep.env:
        line += ", env " + ", ".join("`%s`" % k for k in sorted(dep.env))
    return line


def _short(answer: Optional[Answer], width: int = 90) -> str:
    if answer is None:
        return "-"
    text = " ".join(answer.text.split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("|", "\\|")


def oracle_report(out: str) -> int:
    pool = ServerPool(with_candidate=False)
    rows, details = [], []
    try:
        for case in cases_in_deployment_order():
            dep = DEPLOYMENT_BY_NAME[case.deployment]
            try:
                url, _ = pool.urls(dep)
                answer, error = send(url, case), None
            except (ServerFailed, OracleMissing) as exc:
                answer, error = None, str(exc)
            rows.append("| `%s` | %s | %s |" % (case.id, answer.status if answer else "ERR", _short(answer)))
            block = ["### `%s`" % case.id, "", _dep_line(dep), ""]
            if case.note:
                block += ["Note: " + case.note, ""]
            block += ["Request:", "", _fence(describe_request(case)), "", "seldon-core 1.18 answered:", ""]
            block += [_fence(show_answer(answer) if answer else "server failed:\n" + error), ""]
            details.append("\n".join(block))
    finally:
        pool.close()
    head = [
        "# seldon-core 1.18 answers for the compat cases",
        "",
        "Generated %s by `python -m tests.compat.report oracle` (oracle venv: `%s`)."
        % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), seldon_venv()),
        "Bodies are verbatim (decoded as UTF-8). Case definitions: `tests/compat/cases.py`;",
        "the deployments' environment values are there too.",
        "",
        "| case | status | body |",
        "|---|---|---|",
    ]
    with open(out, "w") as f:
        f.write("\n".join(head + rows) + "\n\n## Details\n\n" + "\n".join(details))
    print("wrote %s (%d cases)" % (out, len(rows)))
    return 0


def classify(o_n, c_n) -> str:
    """A coarse label for a difference, to triage the list."""
    if o_n[0] != c_n[0]:
        return "status %s vs %s" % (o_n[0], c_n[0])
    if len(o_n) > 1 and o_n[1] == c_n[1] == "json":
        o, c = o_n[2], c_n[2]
        if (isinstance(o, dict) and isinstance(c, dict) and set(o) == set(c) == {"status"}
                and isinstance(o["status"], dict) and isinstance(c["status"], dict)):
            o_s = dict(o["status"], info=None)
            c_s = dict(c["status"], info=None)
            if o_s == c_s:
                return "error info text only"
            return "error body"
        return "body"
    return "body kind/text"


def diff_report(out: str) -> int:
    label = candidate_kind()
    pool = ServerPool()
    differing, matching, intentional_ok, notes, failed = [], [], [], [], []
    try:
        for case in cases_in_deployment_order():
            dep = DEPLOYMENT_BY_NAME[case.deployment]
            try:
                o_url, c_url = pool.urls(dep)
            except (ServerFailed, OracleMissing) as exc:
                failed.append((case, str(exc)))
                continue
            oracle, cand = send(o_url, case), send(c_url, case)
            o_n, c_n = normalise(oracle, case, dep), normalise(cand, case, dep)
            diff = INTENTIONAL_DIFFERENCES.get(case.id) if label == "modelkiln" else None
            if diff is not None:
                exp = expected_normalised(diff, case, dep)
                got = (c_n[0],) if diff.status_only else c_n
                if same(got, exp):
                    intentional_ok.append(case)
                else:
                    differing.append((case, dep, oracle, cand, o_n, c_n,
                                      "intentional (%s) but not the recorded answer" % diff.reason))
                continue
            if same(o_n, c_n):
                matching.append(case)
                o_ct = oracle.content_type.split(";")[0].strip()
                c_ct = cand.content_type.split(";")[0].strip()
                if o_ct != c_ct:
                    notes.append("`%s`: same body, Content-Type `%s` (seldon) vs `%s` (%s)"
                                 % (case.id, o_ct, c_ct, label))
            else:
                differing.append((case, dep, oracle, cand, o_n, c_n, ""))
    finally:
        pool.close()

    total = len(matching) + len(differing) + len(intentional_ok) + len(failed)
    lines = [
        "# compat differences: seldon-core 1.18 vs %s" % label,
        "",
        "Generated %s by `python -m tests.compat.report diff`." % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "",
        "- cases: %d" % total,
        "- same answer: %d" % len(matching),
        "- intentional differences, as recorded: %d" % len(intentional_ok),
        "- **differing: %d**" % len(differing),
        "- servers failed to start: %d cases" % len(failed),
        "",
        "Compared: HTTP status and JSON body (strict types, key order ignored), or the text when",
        "not JSON; `meta.requestPath` values and default metadata `name`/`versions` are",
        "normalised to `%s` (except deployment `identity`)." % "<server image>",
        "",
    ]
    if differing:
        lines += ["| case | kind | seldon | %s |" % label, "|---|---|---|---|"]
        lines += ["| `%s` | %s | %d %s | %d %s |" % (c.id, classify(o_n, c_n), o.status, _short(o, 60),
                                                   k.status, _short(k, 60))
                  for c, _, o, k, o_n, c_n, _ in differing]
        lines.append("")
    if failed:
        lines += ["## Deployments that did not start", ""]
        seen = set()
        for case, err in failed:
            if case.deployment not in seen:
                seen.add(case.deployment)
                lines += ["### `%s`" % case.deployment, "", _fence(err), ""]
    if differing:
        lines += ["## Differences", ""]
        for case, dep, oracle, cand, o_n, c_n, why in differing:
            lines += ["### `%s`" % case.id, "", _dep_line(dep) + "; " + classify(o_n, c_n), ""]
            if why:
                lines += [why, ""]
            lines += ["Request:", "", _fence(describe_request(case)), "",
                      "seldon-core 1.18:", "", _fence(show_answer(oracle)), "",
                      "%s:" % label, "", _fence(show_answer(cand)), "",
                      "Compared forms (seldon, then %s):" % label, "",
                      _fence(canonical(o_n) + "\n" + canonical(c_n)), ""]
    if notes:
        lines += ["## Notes (not failures)", ""] + ["- " + n for n in notes] + [""]
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s: %d cases, %d differing, %d failed to start"
          % (out, total, len(differing), len(failed)))
    return 1 if differing or failed else 0


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.compat.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["oracle", "diff"])
    p.add_argument("--out", required=True, help="Markdown file to write")
    args = p.parse_args(argv)
    try:
        return oracle_report(args.out) if args.mode == "oracle" else diff_report(args.out)
    except OracleMissing as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
