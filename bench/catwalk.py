"""catwalk's ``POST /predict`` through modelkiln against catwalk's own servers, on the same
catwalk folder (test_apps/catwalk-iris), driven by wrk on loopback, servers interleaved.

    .venv/bin/python bench/catwalk.py                       # 5 rounds of 5 s, c=1 and 8
    .venv/bin/python bench/catwalk.py --rounds 3 --duration 3

Servers, one process each where the server allows it (catwalk's debug server has no workers):
- modelkiln: ``python -m python_runtime test_apps/catwalk-iris`` (1 worker, no MODEL_NAME);
- catwalk-debug: ``catwalk serve --debug`` (Flask's development server, what catwalk's README
  runs locally), from ``.venv-catwalk``;
- catwalk-gunicorn: catwalk's Flask app under gunicorn (1 sync worker), the application server
  of catwalk's production mode without its nginx in front (``gunicorn`` is installed into
  ``.venv-catwalk`` by this script when missing: a bench dependency only).

Reports the median req/s over rounds and the ratio modelkiln / each catwalk server, with the
command; writes nothing unless ``--output`` is given.
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

FOLDER = os.path.join(REPO_DIR, "test_apps", "catwalk-iris")
BODY = {"correlation_id": "bench", "input": {"sepal_length": 5.0, "sepal_width": 3.5,
                                             "petal_length": 1.5, "petal_width": 0.25}}
GUNICORN_APP = ("import catwalk.server.app as a; import os; "
                "application = a.init(None, os.environ['MODEL_PATH'])")


def catwalk_venv():
    return os.environ.get("MODELKILN_CATWALK_VENV", os.path.join(REPO_DIR, ".venv-catwalk"))


def start(kind, port, folder, work):
    env = dict(os.environ, PIP_NO_INDEX="1", MODEL_PATH=folder)
    venv = catwalk_venv()
    if kind == "modelkiln":
        cmd = [os.path.join(REPO_DIR, ".venv", "bin", "python"), "-m", "python_runtime", folder,
               "--workers", "1", "--threads", "1"]
        env.update(SERVER_PORT=str(port), GRPC_WORKERS="0",
                   PREDICTIVE_UNIT_METRICS_SERVICE_PORT=str(srv.free_ports(1)[0]))
    elif kind == "catwalk-debug":
        cmd = [os.path.join(venv, "bin", "catwalk"), "serve", "--debug", "--no-run-tests",
               "--model-path", folder, "--server-port", str(port)]
    else:
        module = os.path.join(work, "catwalk_wsgi.py")
        with open(module, "w") as handle:
            handle.write(GUNICORN_APP + "\n")
        cmd = [os.path.join(venv, "bin", "gunicorn"), "--workers", "1", "--bind",
               "127.0.0.1:%d" % port, "--chdir", work, "catwalk_wsgi:application"]
    log = open(os.path.join(work, kind + ".log"), "w")
    proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/status" % port, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("%s did not start: see %s" % (kind, log.name))


def check_answer(port):
    request = urllib.request.Request("http://127.0.0.1:%d/predict" % port,
                                     data=json.dumps(BODY).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        doc = json.loads(answer.read())
    return doc["output"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--concurrency", default="1,8")
    ap.add_argument("--output", help="also write the table (Markdown) here")
    args = ap.parse_args(argv)
    gunicorn = os.path.join(catwalk_venv(), "bin", "gunicorn")
    if not os.path.exists(gunicorn):
        subprocess.check_call([os.path.join(catwalk_venv(), "bin", "pip"), "install", "-q",
                               "gunicorn"])
    kinds = ["modelkiln", "catwalk-debug", "catwalk-gunicorn"]
    work = tempfile.mkdtemp(prefix="modelkiln-bench-catwalk-")
    script = wrk.write_script(work, "predict", json.dumps(BODY).encode(), "/predict",
                              {"Content-Type": "application/json"})
    ports = dict(zip(kinds, srv.free_ports(len(kinds))))
    procs = {kind: start(kind, ports[kind], FOLDER, work) for kind in kinds}
    results = {}  # (kind, c) -> [req/s]
    started = time.monotonic()
    try:
        outputs = {kind: check_answer(ports[kind]) for kind in kinds}
        assert len({json.dumps(o, sort_keys=True) for o in outputs.values()}) == 1, outputs
        for number in range(args.rounds):
            order = kinds[number % len(kinds):] + kinds[:number % len(kinds)]
            for c in [int(x) for x in args.concurrency.split(",")]:
                for kind in order:
                    got = wrk.run("http://127.0.0.1:%d" % ports[kind], script, c,
                                  int(args.duration))
                    if got.errors:
                        raise SystemExit("%s: wrk saw errors %s" % (kind, got))
                    results.setdefault((kind, c), []).append(got.rps)
                    print("[%d/%d] c=%-2d %-17s %8.0f req/s" % (number + 1, args.rounds, c, kind,
                                                                 got.rps), flush=True)
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(30)
    lines = ["command: `.venv/bin/python bench/catwalk.py %s` (%.1f min, %d rounds of %g s, "
             "servers interleaved)" % (" ".join(argv if argv is not None else sys.argv[1:]),
                                       (time.monotonic() - started) / 60, args.rounds,
                                       args.duration), "",
             "| conc | server | req/s (median) | min-max | modelkiln / it |",
             "|---:|---|---:|---:|---:|"]
    for c in [int(x) for x in args.concurrency.split(",")]:
        mine = statistics.median(results[("modelkiln", c)])
        for kind in kinds:
            values = results[(kind, c)]
            median = statistics.median(values)
            lines.append("| %d | %s | %.0f | %.0f-%.0f | %s |" % (
                c, kind, median, min(values), max(values),
                "" if kind == "modelkiln" else "%.2fx" % (mine / median)))
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
