"""Write catwalk's answers to every case as a Markdown report (what modelkiln must answer).

    .venv/bin/python -m tests.compat_catwalk.report --out catwalk-answers.md

Run from the repository root once ``make catwalk-venv`` has run. Same cases, servers and
sending as the pytest suite; only the oracle is started.
"""

import argparse
import sys

from tests.compat.report import _fence

from .cases import DEPLOYMENT_BY_NAME, cases_in_deployment_order
from .exchange import describe_request, send, show_answer
from .intentional import INTENTIONAL
from .servers import ServerPool, model_folder


def oracle_report(out: str) -> int:
    pool = ServerPool(with_candidate=False)
    lines = ["# catwalk's answers", "",
             "Every case of tests/compat_catwalk, sent to `catwalk serve --debug`.", ""]
    try:
        for case in cases_in_deployment_order():
            dep = DEPLOYMENT_BY_NAME[case.deployment]
            url, _ = pool.urls(dep)
            lines += ["### `%s`" % case.id, "", "model folder `%s`" % model_folder(dep).name, ""]
            if case.note:
                lines += ["Note: " + case.note, ""]
            if case.id in INTENTIONAL:
                lines += ["Status compared only: " + INTENTIONAL[case.id], ""]
            lines += [_fence(describe_request(case)), "", _fence(show_answer(send(url, case))), ""]
    finally:
        pool.close()
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s" % out)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="catwalk-answers.md")
    return oracle_report(parser.parse_args(argv).out)


if __name__ == "__main__":
    sys.exit(main())
