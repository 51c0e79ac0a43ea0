"""Instructions the server's worker process executes per request, counted by valgrind's
callgrind, for this checkout and for an older commit: a measure of server CPU per request that
does not move with the machine's load (wrk runs on these shared 2-core machines swing 10-30%
between runs, so a "no row slower than 3%" rule cannot be judged from them).

    .venv/bin/python bench/instructions.py --baseline 03a2d14
    .venv/bin/python bench/instructions.py --baseline d13cae1 --payloads grpc-small-tensor

For each tree, one server (1 worker, 1 thread, PYTHONHASHSEED=0) runs under callgrind. For each
payload: 30 warm-up requests on one keep-alive connection (gRPC: one channel), counters zeroed
in the worker, REQUESTS requests one after the other, counters dumped: instructions / request.
Trees alternate within a round; rounds repeat the whole measurement (the counts should agree
within a fraction of a percent). What is counted: everything the worker process runs for a
request, threads included (the event loop, HTTP parsing, the app, the model, the gRPC thread),
plus its idle ticks while the client works. Instructions are not time (cache misses and system
calls' kernel time are not in them), so this complements the wrk tables; it does not replace
them.

Needs valgrind (apt), and for the gRPC payloads the client venvs of bench/run.py
(`.venv-seldon` for Seldon v1 gRPC, `.venv-v2` for V2 gRPC).
"""

import argparse
import glob
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import payloads as pl  # noqa: E402
import servers as srv  # noqa: E402

WARMUP = 30
READY_TIMEOUT = 600.0  # seconds: numpy and gunicorn start slowly under callgrind
TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.M)

# Sends COUNT gRPC calls on one channel, the request built by bench/grpc_client.py's own code.
GRPC_DRIVER = """
import json, sys
sys.path.insert(0, %(bench)r)
import grpc, grpc_client
spec = json.loads(sys.argv[1])
build = grpc_client.v2_request if spec["kind"] == "v2" else grpc_client.seldon_request
request, parse = build(spec)
raw = request.SerializeToString()
method = grpc_client.V2_METHOD if spec["kind"] == "v2" else grpc_client.SELDON_METHOD
channel = grpc.insecure_channel(sys.argv[2])
call = channel.unary_unary(method)
for line in sys.stdin:
    for _ in range(int(line)):
        answer = call(raw, timeout=120)
    parse(answer)
    sys.stdout.write("done\\n")
    sys.stdout.flush()
"""


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, universal_newlines=True,
                          **kwargs).stdout


class Server(object):
    """modelkiln from ``tree`` under callgrind, its worker's counters controlled by pid."""

    def __init__(self, label, tree, python, folder):
        self.label = label
        self.folder = folder
        self.http_port, self.metrics_port, self.grpc_port = srv.free_ports(3)
        env = dict(os.environ, PYTHONPATH=tree, PYTHONHASHSEED="0",
                   PREDICTIVE_UNIT_GRPC_SERVICE_PORT=str(self.grpc_port),
                   MODELKILN_GRPC_IDLE_TIMEOUT="100000")
        cmd = ["valgrind", "--tool=callgrind", "--trace-children=yes",
               "--callgrind-out-file=%s/cg.%%p" % folder, "--dump-line=no",
               python, "-m", "python_runtime", srv.MODEL_CLASS, "--service-type", "MODEL",
               "--workers", "1", "--threads", "1", "--http-port", str(self.http_port),
               "--metrics-port", str(self.metrics_port)]
        self.log = open(os.path.join(folder, "server.log"), "w")
        self.proc = subprocess.Popen(cmd, cwd=srv.MODEL_DIR, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.worker = None
        self.http = None
        self.grpc = {}

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("%s exited: see %s/server.log" % (self.label, self.folder))
            try:
                with urllib.request.urlopen("http://%s:%d/ready" % (srv.HOST, self.http_port),
                                            timeout=30) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            time.sleep(1)
        else:
            raise SystemExit("%s not ready in %d s" % (self.label, READY_TIMEOUT))
        with open(os.path.join(self.folder, "server.log")) as handle:
            pids = re.findall(r"Booting worker with pid: (\d+)", handle.read())
        if len(pids) != 1:
            raise SystemExit("%s: expected one worker, the log names %s" % (self.label, pids))
        self.worker = int(pids[0])

    def send(self, payload, count):
        if isinstance(payload, pl.GrpcPayload):
            driver = self.grpc.get(payload.name)
            if driver is None:
                venv = os.path.join(REPO_DIR, ".venv-v2" if payload.form == "raw"
                                    else ".venv-seldon")
                driver = subprocess.Popen(
                    [os.path.join(venv, "bin", "python"), "-c", GRPC_DRIVER % {"bench": BENCH_DIR},
                     json.dumps(payload.spec()), "%s:%d" % (srv.HOST, self.grpc_port)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
                self.grpc[payload.name] = driver
            driver.stdin.write("%d\n" % count)
            driver.stdin.flush()
            if driver.stdout.readline().strip() != "done":
                raise SystemExit("%s: the gRPC driver failed on %s" % (self.label, payload.name))
            return
        if self.http is None:
            self.http = http.client.HTTPConnection(srv.HOST, self.http_port, timeout=120)
        for _ in range(count):
            self.http.request("POST", payload.path, body=payload.body, headers=payload.headers)
            answer = self.http.getresponse()
            body = answer.read()
        problem = payload.check(answer.status, body, dict(answer.getheaders()))
        if problem:
            raise SystemExit("%s answered %s wrongly: %s" % (self.label, payload.name, problem))

    def count(self, payload, requests, mark):
        """Instructions per request for ``payload`` (after warm-up)."""
        self.send(payload, WARMUP)
        run(["callgrind_control", "--zero", str(self.worker)])
        self.send(payload, requests)
        run(["callgrind_control", "--dump=%s" % mark, str(self.worker)])
        dumps = sorted(glob.glob(os.path.join(self.folder, "cg.%d.*" % self.worker)),
                       key=os.path.getmtime)
        with open(dumps[-1]) as handle:
            text = handle.read()
        if mark not in text:
            raise SystemExit("%s: the newest dump %s is not %s" % (self.label, dumps[-1], mark))
        return int(TOTALS.search(text).group(1)) / float(requests)

    def stop(self):
        for driver in self.grpc.values():
            driver.stdin.close()
            driver.wait(60)
        if self.http is not None:
            self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", required=True, help="the older commit to compare with")
    ap.add_argument("--payloads", default=",".join(p.name for p in pl.all_payloads()),
                    help="comma list of bench/payloads.py names (default: all twelve)")
    ap.add_argument("--requests", type=int, default=300, help="counted requests per payload")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--python", default=os.path.join(REPO_DIR, ".venv", "bin", "python"))
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install valgrind")
    chosen = args.payloads.split(",")
    payloads = [p for p in pl.all_payloads() if p.name in chosen]
    unknown = set(chosen) - {p.name for p in payloads}
    if unknown:
        raise SystemExit("unknown payloads: %s" % ", ".join(sorted(unknown)))
    sha = srv.git("rev-parse", "--short", args.baseline).strip()
    work = tempfile.mkdtemp(prefix="modelkiln-instructions-")
    base_tree = os.path.join(work, "baseline-" + sha)
    srv.add_worktree(base_tree, sha)
    trees = [("modelkiln", REPO_DIR), ("modelkiln@" + sha, base_tree)]
    counts = {}  # (tree label, payload) -> [per-request counts]
    started = time.monotonic()
    try:
        for number in range(args.rounds):
            order = trees if number % 2 == 0 else trees[::-1]
            for label, tree in order:
                folder = os.path.join(work, "%s-%d" % (label.replace("@", "-"), number))
                os.makedirs(folder)
                server = Server(label, tree, args.python, folder)
                try:
                    server.wait_ready()
                    for payload in payloads:
                        mark = "%s-%d" % (payload.name, number)
                        value = server.count(payload, args.requests, mark)
                        counts.setdefault((label, payload.name), []).append(value)
                        print("[%d/%d] %-18s %-18s %12.0f instructions/request"
                              % (number + 1, args.rounds, label, payload.name, value),
                              flush=True)
                finally:
                    server.stop()
    finally:
        srv.remove_worktree(base_tree)
    print()
    print("command: `.venv/bin/python bench/instructions.py %s` (%.1f min)"
          % (" ".join(argv if argv is not None else sys.argv[1:]),
             (time.monotonic() - started) / 60))
    print()
    print("| payload | modelkiln (k instr/req) | modelkiln@%s | mk/base | spread over rounds |" % sha)
    print("|---|---:|---:|---:|---:|")
    for payload in payloads:
        mine = counts[("modelkiln", payload.name)]
        base = counts[("modelkiln@" + sha, payload.name)]
        spread = max((max(v) - min(v)) / statistics.median(v) for v in (mine, base))
        print("| %s | %.1f | %.1f | %.3fx | %.2f%% |" % (
            payload.name, statistics.median(mine) / 1000, statistics.median(base) / 1000,
            statistics.median(mine) / statistics.median(base), 100 * spread))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
