"""What a refusal of the queue limit costs a worker, against the cheapest request it answers.

    .venv/bin/python bench/refusal.py                 # 5 rounds of 3 s, 8 connections
    .venv/bin/python bench/refusal.py --output /tmp/refusal.md

One modelkiln worker serves bench/apps/held with MODELKILN_QUEUE_LIMIT=1 and adaptive batching
on (as the queue rows of bench/batching.py). One request is admitted and held for the whole
run, so every later POST is refused with 503. In rounds that alternate, wrk sends (a) the
Seldon predictions POST, every one refused, and (b) GET /health/ping, the worker's floor: a
route that touches no model. Per run: req/s, wrk's p50 and p99, and the server's CPU per
request from /proc, split into user (Python) and system (the kernel: recv, send, epoll).
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import servers as srv  # noqa: E402
import wrk  # noqa: E402

PREDICT = "/api/v1.0/predictions"
KINDS = ("refused POST", "GET /health/ping")


def server_ticks(pid):
    """(user, system) clock ticks of ``pid`` (gunicorn's master) and its worker."""
    user = system = 0
    for each in srv.process_tree(pid):
        fields = srv._stat_fields(each)
        user, system = user + int(fields[11]), system + int(fields[12])
    return user, system


def start(port, metrics_port):
    env = dict(os.environ, MODELKILN_QUEUE_LIMIT="1", MODELKILN_MAX_BATCH_SIZE="32",
               MODELKILN_MAX_BATCH_TIME="0.002", GRPC_WORKERS="0", PYTHONPATH=REPO_DIR)
    cmd = [sys.executable, "-m", "python_runtime", "Held", "--service-type", "MODEL",
           "--workers", "1", "--threads", "1", "--http-port", str(port),
           "--metrics-port", str(metrics_port)]
    proc = subprocess.Popen(cmd, cwd=os.path.join(BENCH_DIR, "apps", "held"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    if not srv.wait_http(proc, port, "/ready"):
        raise SystemExit("the server did not get ready")
    return proc


def hold(port):
    """A short call first (the worker measures that calls wait), then one held for good."""
    body = b'{"data": {"ndarray": [[2]]}}'
    assert srv.http_request(port, "POST", PREDICT, body)[0] == 200
    held = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-H",
                             "Content-Type: application/json", "-d",
                             '{"data": {"ndarray": [[1]]}}',
                             "http://127.0.0.1:%d%s" % (port, PREDICT)])
    deadline = time.monotonic() + 10
    while srv.http_request(port, "POST", PREDICT, body)[0] != 503:
        if time.monotonic() > deadline:
            raise SystemExit("the queue limit does not refuse")
        time.sleep(0.05)
    status, answer, headers = srv.http_request(port, "POST", PREDICT, body)
    assert status == 503 and headers.get("Retry-After") == "1", (status, headers)
    assert b"MICROSERVICE_OVERLOADED" in answer, answer
    return held


def scripts(work):
    post = wrk.write_script(work, "refused", b'{"data": {"ndarray": [[3]]}}', PREDICT,
                            {"Content-Type": "application/json"})
    ping = os.path.join(work, "ping.lua")
    with open(post) as f:
        text = f.read()
    with open(ping, "w") as f:  # the same script (its BENCH_RESULT line), GET, no body
        f.write(text + '\nwrk.method = "GET"\nwrk.body = nil\nwrk.path = "/health/ping"\n'
                'wrk.headers["Content-Type"] = nil\n')
    return {KINDS[0]: post, KINDS[1]: ping}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--output", help="also write the table (Markdown) here")
    args = ap.parse_args(argv)
    port, metrics_port = srv.free_ports(2)
    proc = start(port, metrics_port)
    held = None
    ticks = os.sysconf("SC_CLK_TCK")
    results = {kind: [] for kind in KINDS}
    try:
        held = hold(port)
        with tempfile.TemporaryDirectory() as work:
            found = scripts(work)
            for number in range(args.rounds):
                order = KINDS if number % 2 == 0 else KINDS[::-1]
                for kind in order:
                    before = server_ticks(proc.pid)
                    run = wrk.run("http://127.0.0.1:%d" % port, found[kind], args.connections,
                                  args.duration)
                    after = server_ticks(proc.pid)
                    if kind == KINDS[0] and run.status_errors != run.requests:
                        raise SystemExit("not every POST was refused: %d of %d"
                                         % (run.status_errors, run.requests))
                    if kind == KINDS[1] and run.errors:
                        raise SystemExit("%d pings failed" % run.errors)
                    user = (after[0] - before[0]) / ticks * 1e6 / run.requests
                    system = (after[1] - before[1]) / ticks * 1e6 / run.requests
                    results[kind].append((run.rps, run.p50_ms, run.p99_ms, user, system))
                    print("round %d %-16s %8.0f req/s  p50 %.2f ms  p99 %.2f ms  CPU/req "
                          "user %.1f us system %.1f us" % ((number + 1, kind) + results[kind][-1]),
                          flush=True)
    finally:
        if held is not None:
            held.kill()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    command = " ".join(["bench/refusal.py"] + list(sys.argv[1:] if argv is None else argv))
    lines = ["command: `.venv/bin/python %s` (%d rounds of %d s, %d connections, the two "
             "kinds alternating)" % (command, args.rounds, args.duration, args.connections), "",
             "| request | req/s (median) | p50 ms | p99 ms | server CPU us/req | of it user "
             "| of it system |", "|---|---:|---:|---:|---:|---:|---:|"]
    for kind in KINDS:
        med = [statistics.median(sample[i] for sample in results[kind]) for i in range(5)]
        lines.append("| %s | %.0f | %.2f | %.2f | %.1f | %.1f | %.1f |"
                     % (kind, med[0], med[1], med[2], med[3] + med[4], med[3], med[4]))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
