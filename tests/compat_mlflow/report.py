"""Write MLflow's answers to every case as a Markdown report (what modelkiln must answer).

    .venv-mlflow-skinny/bin/python -m tests.compat_mlflow.report --out mlflow-answers.md

Run from the repository root once ``make mlflow-venv`` has run. Same cases, models, servers
and sending as the pytest suite; only the oracle is started.
"""

import argparse
import sys

from tests.compat.report import _fence

from .cases import DEPLOYMENT_BY_NAME, cases_in_deployment_order
from .exchange import describe_request, send, show_answer
from .intentional import DIFFERENT
from .servers import ServerPool


def oracle_report(out: str) -> int:
    pool = ServerPool(with_candidate=False)
    lines = ["# MLflow's answers", "",
             "Every case of tests/compat_mlflow, sent to `mlflow models serve`.", ""]
    try:
        for case in cases_in_deployment_order():
            url, _ = pool.urls(DEPLOYMENT_BY_NAME[case.deployment])
            lines += ["### `%s`" % case.id, "", "model folder `%s`" % case.deployment, ""]
            if case.note:
                lines += ["Note: " + case.note, ""]
            if case.id in DIFFERENT:
                lines += ["modelkiln answers otherwise: " + DIFFERENT[case.id][0], ""]
            lines += [_fence(describe_request(case)), "", _fence(show_answer(send(url, case))), ""]
    finally:
        pool.close()
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s" % out)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="mlflow-answers.md")
    return oracle_report(parser.parse_args(argv).out)


if __name__ == "__main__":
    sys.exit(main())
