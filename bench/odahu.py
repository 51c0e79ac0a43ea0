"""ODAHU's ``POST /api/model/invoke`` through modelkiln against ODAHU's own docker-rest handler
under gunicorn, on the same GPPI folder (test_apps/gppi-matrix), driven by wrk on loopback,
servers interleaved round by round.

    .venv/bin/python bench/odahu.py                          # 5 rounds of 5 s, c=1 and 8
    .venv/bin/python bench/odahu.py --rounds 3 --duration 3 --output bench/RESULTS-odahu.md

Servers:
- modelkiln: ``python -m python_runtime test_apps/gppi-matrix --workers 1 --threads 1`` (no
  MODEL_NAME; its REST port in PREDICTIVE_UNIT_HTTP_SERVICE_PORT, gRPC off);
- odahu: ``odahuflow_handler.py`` (odahu-packager 1.6.1) as its docker-rest image runs it: the
  image's command line (``gunicorn --pythonpath APP --timeout 60 -b HOST:PORT -w 1 --threads 4
  odahuflow_handler:app --access-logfile -``, the packager's defaults) in a folder laid out as
  the image's (the handler beside the work dir as ``odahuflow_model``), from ``.venv-odahu``
  (``make odahu-venv``: Flask 1.1.1, gunicorn 20.0.4, orjson 3.7.7, numpy 1.23.2), with
  ODAHU_MODEL_NAME/VERSION and MODEL_LOCATION as its Dockerfile sets them; its access log goes
  to a file, as the image's goes to docker's log.

Payloads: one row, and 1000 rows (4 columns, named). Every answer is checked identical before
the runs. Reports the median req/s over rounds, the ratio modelkiln / odahu, and the servers'
CPU time per request (user + system of the whole process tree over each run, median over
rounds); writes the table to ``--output`` when given.
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
from pathlib import Path

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
sys.path.insert(1, REPO_DIR)

import servers as srv  # noqa: E402
import wrk  # noqa: E402
from tests.compat_gppi.servers import (base_env, handler_folder, odahu_command,  # noqa: E402
                                       odahu_identity)

FOLDER = os.path.join(REPO_DIR, "test_apps", "gppi-matrix")
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
KINDS = ["modelkiln", "odahu"]


def payloads():
    small = {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]]}
    large = {"columns": COLUMNS,
             "data": [[4.3 + (i % 37) * 0.1, 2.0 + (i % 23) * 0.1, 1.0 + (i % 59) * 0.1,
                       0.1 + (i % 25) * 0.1] for i in range(1000)]}
    return [("1 row", small), ("1000 rows", large)]


def start(kind, port, work):
    if kind == "modelkiln":
        cmd = [os.path.join(REPO_DIR, ".venv", "bin", "python"), "-m", "python_runtime", FOLDER,
               "--workers", "1", "--threads", "1"]
        env = dict(base_env(), PYTHONPATH=REPO_DIR, PREDICTIVE_UNIT_HTTP_SERVICE_PORT=str(port),
                   GRPC_WORKERS="0",
                   PREDICTIVE_UNIT_METRICS_SERVICE_PORT=str(srv.free_ports(1)[0]))
        cwd, ready = FOLDER, "/ready"
    else:
        cwd = str(handler_folder(Path(FOLDER), Path(work) / "odahu-app"))
        cmd, env = odahu_command(Path(cwd), port)
        identity = odahu_identity(Path(FOLDER))
        env.update({k: identity[k] for k in ("ODAHU_MODEL_NAME", "ODAHU_MODEL_VERSION")})
        ready = "/healthcheck"
    log = open(os.path.join(work, kind + ".log"), "w")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    if srv.wait_http(proc, port, ready):
        return proc
    proc.kill()
    raise SystemExit("%s did not start: see %s" % (kind, log.name))


def answer(port, body):
    request = urllib.request.Request("http://127.0.0.1:%d/api/model/invoke" % port,
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as got:
        return json.loads(got.read()), got.headers.get("Model-Name")


def cpu_seconds(proc):
    return sum(srv.cpu_ticks(pid) for pid in srv.process_tree(proc.pid)) / srv.CLK_TCK


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--concurrency", default="1,8")
    ap.add_argument("--output", help="also write the table (Markdown) here")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",")]
    work = tempfile.mkdtemp(prefix="modelkiln-bench-odahu-")
    scripts = {name: wrk.write_script(work, "p%d" % i, json.dumps(body).encode(),
                                      "/api/model/invoke", {"Content-Type": "application/json"})
               for i, (name, body) in enumerate(payloads())}
    ports = dict(zip(KINDS, srv.free_ports(len(KINDS))))
    procs = {}
    rps, cpu = {}, {}  # (payload, c, kind) -> [per round]
    started = time.monotonic()
    try:
        for kind in KINDS:
            procs[kind] = start(kind, ports[kind], work)
        for name, body in payloads():
            # compared as values: numpy 1.23 (the handler's) and the runtime's numpy may round a
            # score of zero to -0.0 on one side and 0.0 on the other, which JSON spells apart
            mine, theirs = (answer(ports[kind], body) for kind in KINDS)
            if mine != theirs:
                raise SystemExit("the answers to %s differ: modelkiln %s..., odahu %s..."
                                 % (name, json.dumps(mine)[:300], json.dumps(theirs)[:300]))
        for number in range(args.rounds):
            order = KINDS[number % len(KINDS):] + KINDS[:number % len(KINDS)]
            for name, _ in payloads():
                for c in levels:
                    for kind in order:
                        before = cpu_seconds(procs[kind])
                        got = wrk.run("http://127.0.0.1:%d" % ports[kind], scripts[name], c,
                                      int(args.duration))
                        used = cpu_seconds(procs[kind]) - before
                        if got.errors:
                            raise SystemExit("%s: wrk saw errors %s" % (kind, got.raw))
                        rps.setdefault((name, c, kind), []).append(got.rps)
                        cpu.setdefault((name, c, kind), []).append(
                            used * 1000.0 / max(1, got.requests))
                        print("[%d/%d] %-9s c=%-2d %-9s %8.0f req/s  %.3f ms CPU/req"
                              % (number + 1, args.rounds, name, c, kind, got.rps,
                                 cpu[(name, c, kind)][-1]), flush=True)
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(30)
    lines = ["command: `.venv/bin/python bench/odahu.py %s` (%.1f min, %d rounds of %g s, "
             "servers interleaved)" % (" ".join(argv if argv is not None else sys.argv[1:]),
                                       (time.monotonic() - started) / 60, args.rounds,
                                       args.duration), "",
             "| payload | conc | server | req/s (median) | min-max | modelkiln / it "
             "| server CPU ms/req (median) |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for name, _ in payloads():
        for c in levels:
            mine = statistics.median(rps[(name, c, "modelkiln")])
            for kind in KINDS:
                values = rps[(name, c, kind)]
                median = statistics.median(values)
                lines.append("| %s | %d | %s | %.0f | %.0f-%.0f | %s | %.3f |" % (
                    name, c, kind, median, min(values), max(values),
                    "" if kind == "modelkiln" else "%.2fx" % (mine / median),
                    statistics.median(cpu[(name, c, kind)])))
    text = "\n".join(lines) + "\n"
    sys.stdout.write("\n" + text)
    if args.output:
        Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
