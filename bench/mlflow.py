"""MLflow's ``POST /invocations`` through modelkiln against ``mlflow models serve``, on the same
MLflow folder (test_apps/mlflow-sklearn, a scikit-learn model with a signature), driven by wrk
on loopback, servers interleaved, a small and a 1000-row payload.

    .venv/bin/python bench/mlflow.py                       # 5 rounds of 5 s, c=1 and 8
    .venv/bin/python bench/mlflow.py --rounds 3 --duration 3 --output bench/RESULTS-mlflow.md

Servers, one worker each (``make mlflow-venv`` makes both virtualenvs):
- modelkiln: ``python -m python_runtime test_apps/mlflow-sklearn`` (1 worker, no MODEL_NAME)
  from ``.venv-mlflow-skinny`` (the runtime's pins and mlflow-skinny, as the image has them);
- mlflow: ``mlflow models serve -m test_apps/mlflow-sklearn --env-manager local`` from
  ``.venv-mlflow``: MLflow's defaults (its FastAPI app under uvicorn, one worker).

Both must give the same answer to each payload before timing. Reports the median req/s over
rounds and the ratio modelkiln / mlflow; writes nothing unless ``--output`` is given.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import servers as srv  # noqa: E402
import wrk  # noqa: E402

FOLDER = os.path.join(REPO_DIR, "test_apps", "mlflow-sklearn")
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 2.8, 4.3, 1.3], [6.3, 2.5, 5.0, 1.9]]
PAYLOADS = {
    "1 row": {"dataframe_split": {"columns": COLUMNS, "data": ROWS[:1]}},
    "1000 rows": {"dataframe_split": {"columns": COLUMNS,
                                      "data": [ROWS[i % len(ROWS)] for i in range(1000)]}},
}
KINDS = ["modelkiln", "mlflow"]


def venv(kind):
    name = ".venv-mlflow-skinny" if kind == "modelkiln" else ".venv-mlflow"
    variable = "MODELKILN_MLFLOW_SKINNY_VENV" if kind == "modelkiln" else "MODELKILN_MLFLOW_VENV"
    return os.environ.get(variable) or os.path.join(REPO_DIR, name)


def start(kind, port, work):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODEL_"))}
    bin_dir = os.path.join(venv(kind), "bin")
    if kind == "modelkiln":
        cmd = [os.path.join(bin_dir, "python"), "-m", "python_runtime", FOLDER,
               "--workers", "1", "--threads", "1"]
        env.update(PYTHONPATH=REPO_DIR, PREDICTIVE_UNIT_HTTP_SERVICE_PORT=str(port),
                   GRPC_WORKERS="0", PREDICTIVE_UNIT_METRICS_SERVICE_PORT=str(srv.free_ports(1)[0]))
    else:
        cmd = [os.path.join(bin_dir, "mlflow"), "models", "serve", "-m", FOLDER,
               "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"]
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin")  # its uvicorn
    log = open(os.path.join(work, kind + ".log"), "w")
    proc = subprocess.Popen(cmd, cwd=FOLDER, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/ping" % port, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    stop(proc)
    raise SystemExit("%s did not start: see %s" % (kind, log.name))


def stop(proc):
    try:
        os.killpg(proc.pid, 15)
    except ProcessLookupError:
        return
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)


def answer(port, body):
    request = urllib.request.Request("http://127.0.0.1:%d/invocations" % port,
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as got:
        return json.loads(got.read())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--concurrency", default="1,8")
    ap.add_argument("--output", help="also write the table (Markdown) here")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="modelkiln-bench-mlflow-")
    scripts = {name: wrk.write_script(work, "p%d" % i, json.dumps(body).encode(), "/invocations",
                                      {"Content-Type": "application/json"})
               for i, (name, body) in enumerate(PAYLOADS.items())}
    ports = dict(zip(KINDS, srv.free_ports(len(KINDS))))
    procs = {}
    results = {}  # (payload, c, kind) -> [req/s]
    started = time.monotonic()
    try:
        for kind in KINDS:
            procs[kind] = start(kind, ports[kind], work)
        for name, body in PAYLOADS.items():
            answers = [answer(ports[kind], body) for kind in KINDS]
            assert answers[0] == answers[1], (name, answers)
        concurrency = [int(x) for x in args.concurrency.split(",")]
        for number in range(args.rounds):
            order = KINDS[number % 2:] + KINDS[:number % 2]
            for name in PAYLOADS:
                for c in concurrency:
                    for kind in order:
                        got = wrk.run("http://127.0.0.1:%d" % ports[kind], scripts[name], c,
                                      int(args.duration))
                        if got.errors:
                            raise SystemExit("%s: wrk saw errors %s" % (kind, got))
                        results.setdefault((name, c, kind), []).append(got.rps)
                        print("[%d/%d] %-9s c=%-2d %-9s %8.0f req/s" % (
                            number + 1, args.rounds, name, c, kind, got.rps), flush=True)
    finally:
        for proc in procs.values():
            stop(proc)
    lines = ["command: `.venv/bin/python bench/mlflow.py %s` (%.1f min, %d rounds of %g s, "
             "servers interleaved, one worker each; mlflow %s)"
             % (" ".join(argv if argv is not None else sys.argv[1:]),
                (time.monotonic() - started) / 60, args.rounds, args.duration,
                "models serve --env-manager local: FastAPI under uvicorn"), "",
             "| payload | conc | server | req/s (median) | min-max | modelkiln / mlflow |",
             "|---|---:|---|---:|---:|---:|"]
    for name in PAYLOADS:
        for c in concurrency:
            mine = statistics.median(results[(name, c, "modelkiln")])
            for kind in KINDS:
                values = results[(name, c, kind)]
                median = statistics.median(values)
                lines.append("| %s | %d | %s | %.0f | %.0f-%.0f | %s |" % (
                    name, c, kind, median, min(values), max(values),
                    "" if kind == "modelkiln" else "%.2fx" % (mine / median)))
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
