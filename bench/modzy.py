"""Latency of Modzy's ``POST /run`` for a small file job, through modelkiln serving a Modzy
template folder (test_apps/modzy-template: one hex colour in ``input.txt``, ``results.json``
out), one job at a time.

    .venv/bin/python bench/modzy.py                 # 5 rounds of 200 jobs
    .venv/bin/python bench/modzy.py --rounds 3 --jobs 100

Each job gets its own input and output folder (written before the round starts), so a job
reads and writes real files as the template's jobs do. Reports the median over rounds of each
round's p50, p90 and p99 latency, and the jobs per second one client gets.
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

FOLDER = os.path.join(REPO_DIR, "test_apps", "modzy-template")


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=200)
    args = ap.parse_args(argv)
    port, metrics = srv.free_ports(2)
    work = tempfile.mkdtemp(prefix="modelkiln-bench-modzy-")
    log = open(os.path.join(work, "server.log"), "w")
    env = dict(os.environ, PSC_MODEL_PORT=str(port), GRPC_WORKERS="0",
               PREDICTIVE_UNIT_METRICS_SERVICE_PORT=str(metrics), MODELKILN_JOB_ROOTS=work)
    server = subprocess.Popen([os.path.join(REPO_DIR, ".venv", "bin", "python"), "-m",
                               "python_runtime", FOLDER, "--workers", "1", "--threads", "1"],
                              cwd=FOLDER, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/status", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start: see %s" % log.name)
                time.sleep(0.2)
        rounds = []
        started = time.monotonic()
        for number in range(args.rounds):
            jobs = []
            for job in range(args.jobs):
                folder = os.path.join(work, "r%d-j%d" % (number, job))
                os.makedirs(os.path.join(folder, "in"))
                with open(os.path.join(folder, "in", "input.txt"), "w") as handle:
                    handle.write("%06x\n" % (job * 7919 % 0xFFFFFF))
                jobs.append(json.dumps({"type": "file", "input": os.path.join(folder, "in"),
                                        "output": os.path.join(folder, "out")}).encode())
            latencies = []
            for body in jobs:
                request = urllib.request.Request(base + "/run", data=body,
                                                 headers={"Content-Type": "application/json"})
                begun = time.perf_counter()
                with urllib.request.urlopen(request, timeout=30) as answer:
                    answer.read()
                latencies.append(time.perf_counter() - begun)
            round_time = sum(latencies)
            rounds.append((percentile(latencies, 0.5), percentile(latencies, 0.9),
                           percentile(latencies, 0.99), len(latencies) / round_time))
            print("[%d/%d] p50 %.2f ms, p99 %.2f ms, %.0f jobs/s" % (
                number + 1, args.rounds, rounds[-1][0] * 1000, rounds[-1][2] * 1000,
                rounds[-1][3]), flush=True)
        answer_file = os.path.join(work, "r0-j1", "out", "results.json")
        with open(answer_file) as handle:
            json.load(handle)  # the model wrote its answer
    finally:
        server.terminate()
        server.wait(30)
    p50, p90, p99, rate = (statistics.median(r[i] for r in rounds) for i in range(4))
    print()
    print("command: `.venv/bin/python bench/modzy.py %s` (%.1f min)" % (
        " ".join(argv if argv is not None else sys.argv[1:]), (time.monotonic() - started) / 60))
    print()
    print("| jobs | p50 ms | p90 ms | p99 ms | jobs/s, one client |")
    print("|---:|---:|---:|---:|---:|")
    print("| %d x %d | %.2f | %.2f | %.2f | %.0f |" % (args.rounds, args.jobs, p50 * 1000,
                                                     p90 * 1000, p99 * 1000, rate))


if __name__ == "__main__":
    main()
