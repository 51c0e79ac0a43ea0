"""Print both servers' answers, and ready-to-paste ``intentional.py`` entries.

    .venv-seldon/bin/python -m tests.compat_grpc.report                # every differing case
    .venv-seldon/bin/python -m tests.compat_grpc.report -k tftensor    # ids containing 'tftensor'
    .venv-seldon/bin/python -m tests.compat_grpc.report --all          # equal answers too

For a differing case the entry is ``"<id>": Difference(REASON, <modelkiln's answer>)``:
replace REASON with one of ``intentional.REASONS`` after checking the answer is the intended one.
"""

import argparse
import pprint
import sys
import tempfile

from ..compat.servers import ServerFailed, candidate_kind
from .cases import DEPLOYMENT_BY_NAME, cases_in_deployment_order, describe_request
from .exchange import call, explain, normalise, same
from .intentional import INTENTIONAL_DIFFERENCES
from .servers import GrpcServerPool


def entry(case_id: str, answer) -> str:
    fields = ["REASON", repr(answer.code)]
    if answer.details:
        fields.append("details=%r" % answer.details)
    if answer.body is not None:
        fields.append("body=" + pprint.pformat(answer.body, width=88, sort_dicts=True))
    if answer.trailers:
        fields.append("trailers=%r" % answer.trailers)
    return '    "%s": Difference(%s),' % (case_id, ", ".join(fields))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="pattern", default="", help="only case ids containing this")
    parser.add_argument("--all", action="store_true", help="show equal answers too")
    args = parser.parse_args(argv)
    cases = [c for c in cases_in_deployment_order() if args.pattern in c.id]
    order = []
    for c in cases:
        if DEPLOYMENT_BY_NAME[c.deployment] not in order:
            order.append(DEPLOYMENT_BY_NAME[c.deployment])
    pool = GrpcServerPool(order, tempfile.mkdtemp(prefix="modelkiln-grpc-report-"),
                          candidate=candidate_kind())
    entries = []
    try:
        for case in cases:
            dep = DEPLOYMENT_BY_NAME[case.deployment]
            try:
                oracle_channel, cand_channel = pool.channels(dep)
            except ServerFailed as exc:
                print("%s: servers did not start: %s" % (case.id, exc))
                continue
            oracle, cand = call(oracle_channel, case), call(cand_channel, case)
            oracle_n = normalise(oracle, dep.exact_identity)
            cand_n = normalise(cand, dep.exact_identity)
            equal = same(oracle_n, cand_n)
            if equal and not args.all:
                continue
            title = "%s: %s%s" % (case.id, "same" if equal else "DIFFERENT",
                                  " (recorded in intentional.py)"
                                  if case.id in INTENTIONAL_DIFFERENCES else "")
            print(explain(title, describe_request(case), ("seldon", oracle),
                          ("candidate", cand)))
            if not equal:
                entries.append(entry(case.id, cand))
    finally:
        pool.close()
    if entries:
        print("\n# --- intentional.py entries (modelkiln's answers) ---")
        print("\n".join(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
