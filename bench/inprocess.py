"""Microseconds the WSGI app spends on one request, called in-process (no socket, no worker,
no client), for this checkout and for an older commit: resolves differences of well under 1%
of a request's cost, which wrk runs on a shared 2-core machine cannot.

    .venv/bin/python bench/inprocess.py --baseline HEAD          # this tree vs the last commit
    .venv/bin/python bench/inprocess.py --baseline 3919388 --rounds 6

Each round runs every payload in a fresh process per tree, trees interleaved; a process reports
the best of 7 passes of 4000 calls; the table shows the median over rounds.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)

ROW = [5.1, 3.5, 1.4, 0.2]
PAYLOADS = {
    "v1 ndarray [1,4]": ("/api/v1.0/predictions", {"data": {"ndarray": [ROW]}}),
    "v1 tensor [1,4]": ("/api/v1.0/predictions", {"data": {"tensor": {"shape": [1, 4],
                                                                        "values": ROW}}}),
    "V2 JSON [1,4]": ("/v2/models/IrisSoftmax/infer", {"inputs": [
        {"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}),
}

# Run inside a process whose PYTHONPATH selects the tree: prints {payload: microseconds}.
MEASURE = r"""
import io, json, sys, time
sys.path.insert(0, sys.argv[1])
from IrisSoftmax import IrisSoftmax
try:  # the layout since issue 33, and before it (a --baseline may be older)
    from python_runtime.model.component import Component
    from python_runtime.model.context import LoadState
    from python_runtime.transport.http import create_app
except ImportError:
    from python_runtime.component import Component
    from python_runtime.context import LoadState
    from python_runtime.http import create_app
from python_runtime.settings import Settings

settings = Settings.load(["IrisSoftmax"], environ={}, read_annotations=False)
state = LoadState()
state.ready = True
app = create_app(settings, Component(IrisSoftmax(), "MODEL"), None, state)
out = {}
for name, (path, doc) in json.loads(sys.argv[2]).items():
    body = json.dumps(doc).encode()
    base = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json", "modelkiln.local_port": 9000}
    status = []
    best = None
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(4000):
            environ = dict(base)
            environ["wsgi.input"] = io.BytesIO(body)
            answer = app(environ, lambda s, h, e=None: status.append(s))
            b"".join(answer)
            answer.close()
        took = (time.perf_counter() - started) / 4000 * 1e6
        best = took if best is None else min(best, took)
    assert set(status) == {"200 OK"}, set(status)
    out[name] = best
print(json.dumps(out))
"""


def measure(tree, python):
    env = dict(os.environ, PYTHONPATH=tree, PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([python, "-c", MEASURE, os.path.join(BENCH_DIR, "model"),
                           json.dumps(PAYLOADS)], env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        sys.exit("measuring %s failed:\n%s" % (tree, done.stderr[-3000:]))
    return json.loads(done.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", required=True, help="commit to compare with")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    sha = subprocess.run(["git", "-C", REPO_DIR, "rev-parse", "--short=7", args.baseline],
                         capture_output=True, text=True, check=True).stdout.strip()
    worktree = os.path.join(tempfile.mkdtemp(prefix="modelkiln-inprocess-"), sha)
    subprocess.run(["git", "-C", REPO_DIR, "worktree", "add", "--detach", worktree, sha],
                   capture_output=True, check=True)
    try:
        trees = {"this tree": REPO_DIR, sha: worktree}
        results = {label: {name: [] for name in PAYLOADS} for label in trees}
        for round_ in range(args.rounds):
            order = list(trees.items())
            if round_ % 2:
                order.reverse()
            for label, tree in order:
                for name, micros in measure(tree, args.python).items():
                    results[label][name].append(micros)
            print("round %d/%d done" % (round_ + 1, args.rounds), file=sys.stderr)
    finally:
        subprocess.run(["git", "-C", REPO_DIR, "worktree", "remove", "--force", worktree],
                       capture_output=True)
    print("| payload | this tree µs | %s µs | difference |" % sha)
    print("|---|---|---|---|")
    for name in PAYLOADS:
        mine = statistics.median(results["this tree"][name])
        base = statistics.median(results[sha][name])
        print("| %s | %.2f | %.2f | %+.2f µs (%+.1f%%) |" % (name, mine, base, mine - base,
                                                          100.0 * (mine - base) / base))


if __name__ == "__main__":
    main()
