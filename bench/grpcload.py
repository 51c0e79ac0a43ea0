"""Driving gRPC load: N processes of bench/grpc_client.py (the same Python client, each with
its own channel, unary calls back to back), released together; their counts are summed and
their latency histograms merged. See grpc_client.py for the protocol with each process.

(Not named grpc.py: the client runs with bench/ first on sys.path and imports grpcio's `grpc`.)
"""
import json
import math
import os
import queue
import signal
import subprocess
import threading
import time

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grpc_client.py")
STUBS = {  # the client kind -> the import its interpreter must manage
    "seldon": "from seldon_core.proto import prediction_pb2, prediction_pb2_grpc",
    "v2": "from tritonclient.grpc import service_pb2, service_pb2_grpc",
}


class GrpcError(RuntimeError):
    """The clients could not be run (not a server error: those are counted)."""


class CheckFailed(Exception):
    """A client's check request failed or came back wrong; the reason is the message."""


def write_spec(directory, payload):
    path = os.path.join(directory, payload.name + ".grpc.json")
    with open(path, "w") as f:
        json.dump(payload.spec(), f, separators=(",", ":"))
    return path


def client_problem(python, kind):
    """None if `python` can run the client for this kind (grpcio and the stubs import), else why."""
    code = "import grpc\n" + STUBS[kind] + "\n"
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        return "%s: %s" % (python, e)
    if r.returncode != 0:
        return "%s cannot import grpcio and the stubs (%s):\n%s" % (python, STUBS[kind], r.stderr[-1500:])
    return None


def client_versions(python):
    """'Python 3.11.7, grpcio 1.66.1, protobuf 3.20.3 (python)' for a client interpreter."""
    code = ("import importlib.metadata as m, platform\n"
            "from google.protobuf.internal import api_implementation as a\n"
            "out = ['Python ' + platform.python_version()]\n"
            "for mod in ('grpcio', 'protobuf', 'seldon-core', 'tritonclient'):\n"
            "    try: out.append(mod + ' ' + m.version(mod))\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(', '.join(out) + ' (protobuf implementation: %s)' % a.Type())")
    r = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "?"


class GrpcResult:
    """The summed result of one run, with the attributes report.Cell reads (as WrkResult)."""

    def __init__(self, results):
        self.clients = len(results)
        self.requests = sum(r["requests"] for r in results)
        self.duration_s = max(r["elapsed_s"] for r in results)
        # each client's own rate, summed: they run for the same time, released together
        self.rps = sum(r["requests"] / r["elapsed_s"] for r in results if r["elapsed_s"] > 0)
        hist = {}
        for r in results:
            for b, n in r["hist"].items():
                hist[int(b)] = hist.get(int(b), 0) + n
        self.p50_ms = percentile(hist, 50)
        self.p90_ms = percentile(hist, 90)
        self.p99_ms = percentile(hist, 99)
        self.max_ms = percentile(hist, 100)
        self.codes = {}
        for r in results:
            for code, n in r["codes"].items():
                self.codes[code] = self.codes.get(code, 0) + n
        self.status_errors = sum(r["errors"] for r in results)  # gRPC status != OK (or empty)
        self.socket_errors = 0
        self.errors = self.status_errors
        self.client_cpu_s = sum(r["cpu_s"] for r in results)
        self.client_cpu_ms_per_req = self.client_cpu_s * 1000 / self.requests if self.requests else None
        self.cpu_ms_per_req = None  # filled in by the caller (server CPU over the run)


def percentile(hist, q):
    """The q-th percentile (ms) of a histogram {floor(100 ln us): count}, None if empty."""
    total = sum(hist.values())
    if not total:
        return None
    rank = max(1, math.ceil(total * q / 100.0))
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            return math.exp((b + 0.5) / 100.0) / 1000.0
    return None


class Load:
    """N client processes against one server: start() spawns them and waits for each one's
    check, go() releases them together, wait() collects and sums their results."""

    def __init__(self, python, spec_file, target, clients, duration_s, logdir, timeout_s=10):
        self.cmd = [python, CLIENT, spec_file, target, "%g" % duration_s, "%g" % timeout_s]
        self.clients = clients
        self.duration_s = duration_s
        self.timeout_s = timeout_s
        self.logpath = os.path.join(logdir, "grpc-clients.log")
        self.procs = []
        self.lines = queue.Queue()

    def _reader(self, i, proc):
        for line in proc.stdout:
            self.lines.put((i, line))
        self.lines.put((i, None))

    def _collect(self, tag, deadline):
        """{client index: doc} of each client's next `tag` line."""
        got = {}
        while len(got) < len(self.procs):
            left = deadline - time.monotonic()
            if left <= 0:
                raise GrpcError("%d of %d gRPC clients sent no %s line in time (%s)"
                                % (len(self.procs) - len(got), len(self.procs), tag, " ".join(self.cmd)))
            try:
                i, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                if i not in got:
                    raise GrpcError("gRPC client %d exited (%s) before its %s line; see %s"
                                    % (i, self.procs[i].wait(), tag, self.logpath))
                continue
            if line.startswith(tag + " "):
                got[i] = json.loads(line[len(tag) + 1:])
        return got

    def start(self, compare, ready_timeout=60.0):
        """Spawn the clients; each sends one checked request. Raises CheckFailed with the first
        client's reason if any answer is an error or wrong (compare(rows) -> None or why)."""
        log = open(self.logpath, "ab")
        try:
            for i in range(self.clients):
                p = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                     text=True, start_new_session=True)
                self.procs.append(p)
                threading.Thread(target=self._reader, args=(i, p), daemon=True).start()
        finally:
            log.close()
        ready = self._collect("READY", time.monotonic() + ready_timeout)
        for i in sorted(ready):
            doc = ready[i]
            why = doc.get("error") or compare(doc["rows"])
            if why:
                raise CheckFailed(why)

    def go(self):
        for p in self.procs:
            p.stdin.write("GO\n")
            p.stdin.flush()

    def results(self):
        """Each client's RESULT document, in client order (blocks until all have sent one)."""
        done = self._collect("RESULT", time.monotonic() + self.duration_s + self.timeout_s + 60)
        return [done[i] for i in sorted(done)]

    def finish(self, results, compare):
        """The summed GrpcResult; the last answer of each client is checked too (a wrong one
        raises CheckFailed)."""
        for r in results:
            why = r.get("last_error") or (compare(r["last_rows"]) if r.get("last_rows") is not None else None)
            if why:
                raise CheckFailed("after the run: %s" % why)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        return GrpcResult(results)

    def stop(self):
        """Kill any client still running (each is its own process group)."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            for f in (p.stdin, p.stdout):
                try:
                    f.close()
                except (OSError, ValueError):
                    pass


def run(python, spec_file, target, clients, duration_s, logdir, compare, measure=None):
    """One run: (GrpcResult, measure() just before GO, measure() just after the last result).
    Raises CheckFailed when an answer is wrong, GrpcError when the clients cannot be run."""
    load = Load(python, spec_file, target, clients, duration_s, logdir)
    try:
        load.start(compare)
        before = measure() if measure else None
        load.go()
        results = load.results()
        after = measure() if measure else None
        return load.finish(results, compare), before, after
    finally:
        load.stop()
