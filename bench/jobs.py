"""File and batch jobs: rows per second of scoring a 100,000-row CSV with the benchmark's model,
in-process and against a running server, next to the peers' batch clients.

    .venv/bin/python bench/jobs.py                # ~6 min: writes its section of bench/RESULTS.md
    .venv/bin/python bench/jobs.py --no-write --rounds 1
    .venv/bin/python bench/jobs.py --tools predict,batch,batch-rows --no-tune --no-write
    .venv/bin/python bench/jobs.py --rows 20000 --tune-rows 2000 --rounds 1 --no-write   # ~1 min

Tools (all run the same class, bench/model/IrisSoftmax.py, on the same numbers):

- predict     modelkiln predict: `python -m python_runtime.jobs predict bench/model IN.csv OUT.csv
              --batch-size 1000` (MODEL_NAME=IrisSoftmax), the model in the client's process;
- seldon      seldon-core 1.18's seldon-batch-processor against seldon-core-microservice
              (`--gateway-type seldon`: it posts to /api/v1.0/predictions, no gateway prefix);
- mlserver    MLServer 1.7's `mlserver infer` against `mlserver start` with the
              tests/v2/mlserver runtime (as bench/servers.py starts it);
- batch       modelkiln batch: `python -m python_runtime.jobs.batch --url URL IN.csv OUT.csv
              --protocol seldon --batch-size 1000 --workers N` against a modelkiln server;
- batch-rows  the same client with one Seldon message per request (.jsonl), like-for-like with a
              per-row seldon-batch-processor; run when asked for, or when per-row is what
              seldon-batch-processor does best.

The servers are started side by side and answer before any clock starts. A peer's settings
(payload type, mini-batch size, worker threads) are first tuned: every candidate on
--tune-rows rows, --tune-passes times (one below half the best after the first pass is not
tried again); each candidate's fastest pass counts (background load only ever slows a run),
the fastest candidate is kept. Then --rounds rounds, tools
interleaved (the order rotates), each tool timed on a 1-row file (its start-up) and on the
whole file. Rows/s = rows / wall time of the client command, start-up included, as a user
sees it; "w/o start-up" subtracts the 1-row run of the same round. Every output is read back:
all rows present once, no error lines, every answer within 1e-9 of the model's own. A run
that fails the check reports no number. See bench/README.md.
"""
import argparse
import atexit
import datetime
import importlib.util
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers as srv  # noqa: E402

JOBS_MARK = "<!-- jobs:begin -->"
JOBS_END = "<!-- jobs:end -->"
TOOL_ORDER = ("predict", "seldon", "mlserver", "batch", "batch-rows")
DEFAULT_TOOLS = ("predict", "seldon", "mlserver", "batch")
COLUMNS = ("a", "b", "c", "d")
DEPLOYMENT = "iris"  # seldon-batch-processor needs a deployment name; --gateway-type seldon ignores it
CLIENT_TIMEOUT = 600.0  # seconds for one client command
TOLERANCE = 1e-9
SLOW_CANDIDATE = 0.5  # a setting below this share of the best after the first tuning pass is dropped
NCPU = os.cpu_count() or 1
# (label, tool, peer tool, the threshold)
TARGETS = (
    ("modelkiln predict / seldon-batch-processor", "predict", "seldon", 10.0),
    ("modelkiln predict / mlserver infer", "predict", "mlserver", 3.0),
    ("modelkiln batch / seldon-batch-processor", "batch", "seldon", 2.0),
    ("modelkiln batch, 1 row per request / seldon-batch-processor", "batch-rows", "seldon", None),
    ("modelkiln batch / mlserver infer", "batch", "mlserver", None),
)


PEER_NOTES = """
- **seldon-batch-processor** (seldon-core 1.18) builds its URL in `SeldonClient`: with the
  default `--gateway-type istio` (or `ambassador`) it posts to
  `http://HOST/seldon/NAMESPACE/DEPLOYMENT/api/v1.0/predictions`; with `--gateway-type seldon` it
  posts to `http://HOST/api/v1.0/predictions`, the microservice's own route, so it is pointed
  at the microservice with `--gateway-type seldon --host 127.0.0.1:PORT` and no rewriting proxy
  is needed (`--deployment-name` is required but unused on that path). Each request is a new
  `requests.post` (no session: a TCP connection per request), built through protobuf.
  `-t` is both `--transport` and `--batch-interval` in its click command: use the long names.
- Its `--batch-size` mini-batching splits each answer by deep-copying the whole answer once per
  row, so a row costs more the larger the batch: 1000 is several times slower than 50 (see the
  settings tried). `--payload-type tensor` is cheaper than `ndarray` on the client (a flat
  list instead of protobuf ListValues per row). `--log-level warning` skips its log line per
  100 rows. Its answers come back in completion order; the harness puts them in place by
  `meta.tags.batch_index`.
- Its gRPC transport (`--transport grpc --gateway-type seldon`, tried by hand, not a
  candidate): per row it works (a new channel per call, about 650 rows/s here) but its answers
  carry no `batch_index`, so with several workers the output order is lost; with
  `--batch-size` > 1 every batch fails with `'tags'` (the gRPC answer has no `meta.tags` to
  split by).
- A second seldon-core gunicorn worker does not change its rate (`--tools seldon --no-tune
  --rounds 2 --server-workers 2`: 6,053 rows/s, the same at 1 worker: 6,044): the client is the
  bottleneck (its CPU time is close to its wall time).
- **mlserver infer** (MLServer 1.7.1) says "Deprecated: this experimental feature will be
  removed". `--url` is `HOST:PORT` without a scheme; `--transport grpc` is "not yet supported";
  `--binary-data` is refused by MLServer's own server (every request fails with a JSON decode
  error and is retried after 1 s), so it is not a candidate. It parses every line with pydantic
  and merges and splits batches in Python: its CPU time is close to its wall time. Its answers
  come back in completion order with `parameters.batch_index`. A batch whose answer cannot be
  split is dropped without an error line (an `UnboundLocalError` in `process_items` is
  swallowed by `consume`), and both peers exit 0 with failed rows: the harness counts and checks
  every row rather than trusting the exit code.
"""


def log(msg=""):
    print(msg, flush=True)


class CheckFailed(Exception):
    """A tool's output is not the model's answer to every row."""


# ---- the tools --------------------------------------------------------------------------------

class Tool:
    """One client command.

    inputs: which data file it reads ("csv", "seldon-lines", "v2-lines", "seldon-jsonl");
    server: the server kind it talks to (None: in-process); candidates: settings tried while
    tuning (the first one is used with --no-tune); fixed: settings that are the command as the
    issue states it (not tuned); full_tune: tuned on all the rows (cheap enough, and a few
    requests of 1000 rows would say nothing)."""

    def __init__(self, name, label, inputs, server, build, parse, candidates, describe,
                 full_tune=False):
        self.name = name
        self.label = label
        self.inputs = inputs
        self.server = server
        self.build = build
        self.parse = parse
        self.candidates = candidates
        self.describe = describe
        self.full_tune = full_tune
        self.missing = None  # why it cannot run here (n/a), or None


def make_tools(args):
    seldon_bin = os.path.join(args.seldon_venv, "bin", "seldon-batch-processor")
    mlserver_bin = os.path.join(args.v2_venv, "bin", "mlserver")

    def predict(settings, port, src, dst):
        return [args.python, "-m", "python_runtime.jobs", "predict", srv.MODEL_DIR, src, dst,
                "--batch-size", str(settings["batch_size"])]

    def seldon(settings, port, src, dst):
        # long option names only: -t is both --transport and --batch-interval in its click command
        return [seldon_bin, "--deployment-name", DEPLOYMENT, "--gateway-type", "seldon",
                "--host", "%s:%d" % (srv.HOST, port), "--transport", "rest",
                "--data-type", "data", "--payload-type", settings["payload"],
                "--batch-size", str(settings["batch_size"]), "--workers", str(settings["workers"]),
                "--input-data-path", src, "--output-data-path", dst, "--log-level", "warning"]

    def mlserver(settings, port, src, dst):
        return [mlserver_bin, "infer", "--url", "%s:%d" % (srv.HOST, port),
                "--model-name", srv.MODEL_CLASS, "--input-data-path", src,
                "--output-data-path", dst, "--workers", str(settings["workers"]),
                "--batch-size", str(settings["batch_size"])]

    def batch(settings, port, src, dst):
        cmd = [args.python, "-m", "python_runtime.jobs.batch", "--url", "http://%s:%d" % (srv.HOST, port),
               src, dst, "--protocol", "seldon", "--workers", str(settings["workers"])]
        if settings.get("batch_size"):
            cmd += ["--batch-size", str(settings["batch_size"])]
        return cmd

    def seldon_describe(s):
        return "%s, --batch-size %d, --workers %d" % (s["payload"], s["batch_size"], s["workers"])

    def mini_describe(s):
        return "--batch-size %d, --workers %d" % (s["batch_size"], s["workers"])

    def workers_describe(s):
        return "--workers %d" % s["workers"]

    tools = {
        "predict": Tool("predict", "modelkiln predict", "csv", None, predict, parse_csv,
                        [{"batch_size": 1000}], lambda s: "--batch-size %d" % s["batch_size"]),
        # per-row first: its default (--batch-size 1) and the only size without mini-batching
        "seldon": Tool("seldon", "seldon-batch-processor", "seldon-lines", "seldon", seldon,
                       parse_seldon_lines,
                       [{"payload": "tensor", "batch_size": 50, "workers": 4}]
                       + [{"payload": p, "batch_size": b, "workers": w} for p, b, w in (
                           ("ndarray", 1, 4), ("ndarray", 1, 16), ("ndarray", 10, 4),
                           ("ndarray", 50, 4), ("ndarray", 100, 4), ("ndarray", 1000, 4),
                           ("tensor", 10, 4), ("tensor", 50, 1), ("tensor", 50, 8),
                           ("tensor", 100, 4), ("tensor", 200, 4), ("tensor", 1000, 4))],
                       seldon_describe),
        "mlserver": Tool("mlserver", "mlserver infer", "v2-lines", "mlserver", mlserver,
                         parse_v2_lines,
                         [{"batch_size": 100, "workers": 4}]
                         + [{"batch_size": b, "workers": w} for b, w in (
                             (1, 4), (1, 16), (10, 4), (50, 2), (50, 4), (100, 8),
                             (200, 4), (1000, 4), (1000, 8))],
                         mini_describe),
        "batch": Tool("batch", "modelkiln batch", "csv", "modelkiln", batch, parse_csv,
                      [{"batch_size": 1000, "workers": w} for w in (4, 1, 2)],
                      lambda s: "--batch-size %d, --workers %d" % (s["batch_size"], s["workers"]),
                      full_tune=True),
        "batch-rows": Tool("batch-rows", "modelkiln batch, 1 row/request", "seldon-jsonl",
                           "modelkiln", batch, parse_seldon_jsonl,
                           [{"workers": w} for w in (8, 4, 16)], workers_describe),
    }
    if not os.access(seldon_bin, os.X_OK):
        tools["seldon"].missing = "%s not found (make seldon-venv)" % seldon_bin
    if not os.access(mlserver_bin, os.X_OK):
        tools["mlserver"].missing = "%s not found (make v2-venv)" % mlserver_bin
    runtime = os.path.join(srv.MLSERVER_RUNTIME_DIR, srv.MLSERVER_RUNTIME.split(".")[0] + ".py")
    if not tools["mlserver"].missing and not os.path.isfile(runtime):
        tools["mlserver"].missing = "its runtime %s is missing" % runtime
    for name, module in (("predict", "python_runtime.jobs"), ("batch", "python_runtime.jobs.batch")):
        r = subprocess.run([args.python, "-c", "import %s" % module], cwd=srv.REPO_DIR,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            tools[name].missing = "%s missing" % module
            log("note: %s: `import %s` failed:\n%s" % (name, module, r.stderr.strip()[-600:]))
    tools["batch-rows"].missing = tools["batch"].missing
    return tools


# ---- data ------------------------------------------------------------------------------------

def make_rows(n, seed=20241129):
    """n iris-like rows as text ("%.2f") and as the doubles every tool parses from that text."""
    rng = np.random.default_rng(seed)
    low, high = np.array([4.3, 2.0, 1.0, 0.1]), np.array([7.9, 4.4, 6.9, 2.5])
    text = [["%.2f" % v for v in row] for row in rng.uniform(low, high, size=(n, 4))]
    return text, np.array([[float(v) for v in row] for row in text])


def write_inputs(folder, tag, text, values):
    """The same rows in each tool's input format; {kind: path}."""
    paths = {kind: os.path.join(folder, "%s.%s" % (tag, ext)) for kind, ext in (
        ("csv", "csv"), ("seldon-lines", "txt"), ("v2-lines", "v2.txt"), ("seldon-jsonl", "jsonl"))}
    with open(paths["csv"], "w") as f:
        f.write(",".join(COLUMNS) + "\n")
        f.writelines(",".join(row) + "\n" for row in text)
    rows = values.tolist()
    with open(paths["seldon-lines"], "w") as f:  # --data-type data: one [[...]] per line
        f.writelines(json.dumps([row]) + "\n" for row in rows)
    with open(paths["v2-lines"], "w") as f:  # one V2 inference request per line
        f.writelines(json.dumps({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64",
                                             "data": row}]}) + "\n" for row in rows)
    with open(paths["seldon-jsonl"], "w") as f:  # one Seldon message per line
        f.writelines(json.dumps({"data": {"names": list(COLUMNS), "ndarray": [row]}}) + "\n"
                     for row in rows)
    return paths


def reference_model():
    spec = importlib.util.spec_from_file_location(srv.MODEL_CLASS,
                                                  os.path.join(srv.MODEL_DIR, srv.MODEL_CLASS + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, srv.MODEL_CLASS)()


# ---- reading the outputs back ----------------------------------------------------------------

def parse_csv(path, n):
    with open(path) as f:
        header = f.readline().strip().split(",")
    if len(header) != 3:
        raise CheckFailed("header %r: expected 3 output columns" % ",".join(header))
    out = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    if out.shape != (n, 3):
        raise CheckFailed("%d rows x %d columns, expected %d x 3" % (out.shape[0], out.shape[1], n))
    return out


class Indexed:
    """Answers that come back in any order, each naming its input row."""

    def __init__(self, n):
        self.out = np.full((n, 3), np.nan)
        self.seen = np.zeros(n, dtype=bool)
        self.errors = 0
        self.first_error = None
        self.lines = 0

    def error(self, line):
        self.errors += 1
        if self.first_error is None:
            self.first_error = line.strip()[:300]

    def put(self, index, values):
        if not 0 <= index < len(self.seen):
            raise CheckFailed("an answer for row %d, out of range" % index)
        if self.seen[index]:
            raise CheckFailed("row %d answered twice" % index)
        self.seen[index] = True
        self.out[index] = values

    def result(self):
        if self.errors:
            raise CheckFailed("%d error line(s), e.g. %s" % (self.errors, self.first_error))
        missing = int((~self.seen).sum())
        if missing:
            raise CheckFailed("%d of %d rows have no answer (%d lines)" % (missing, len(self.seen), self.lines))
        return self.out


def parse_seldon_lines(path, n):
    """seldon-batch-processor: one response per row, in completion order, the row's index in
    meta.tags.batch_index; a failure is {"status": {"info": "FAILURE", ...}}."""
    got = Indexed(n)
    with open(path) as f:
        for line in f:
            got.lines += 1
            doc = json.loads(line)
            if "data" not in doc or (doc.get("status") or {}).get("info") == "FAILURE":
                got.error(line)
                continue
            data = doc["data"]
            values = data["tensor"]["values"] if "tensor" in data else data["ndarray"][0]
            got.put(int(doc["meta"]["tags"]["batch_index"]), values)
    return got.result()


def parse_v2_lines(path, n):
    """mlserver infer: one V2 response per row, in completion order, its index in
    parameters.batch_index; a failure has "error"."""
    got = Indexed(n)
    with open(path) as f:
        for line in f:
            got.lines += 1
            doc = json.loads(line)
            if "error" in doc or not doc.get("outputs"):
                got.error(line)
                continue
            got.put(int(doc["parameters"]["batch_index"]), doc["outputs"][0]["data"])
    return got.result()


def parse_seldon_jsonl(path, n):
    """modelkiln batch on messages: one answer per line, in input order; a failure has "error"."""
    got = Indexed(n)
    with open(path) as f:
        for index, line in enumerate(f):
            got.lines += 1
            doc = json.loads(line)
            if "error" in doc or "data" not in doc:
                got.error(line)
                continue
            data = doc["data"]
            values = data["tensor"]["values"] if "tensor" in data else data["ndarray"][0]
            got.put(index, values)
    return got.result()


def check_output(tool, path, expected):
    """None if the output answers every row like the model does, else why not."""
    try:
        out = tool.parse(path, len(expected))
    except CheckFailed as e:
        return str(e), None
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        return "unreadable output: %s: %s" % (type(e).__name__, e), None
    bad = ~np.isclose(out, expected, rtol=TOLERANCE, atol=TOLERANCE).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        return ("%d rows differ from the model's answer, first row %d: %s, expected %s"
                % (int(bad.sum()), i + 1, out[i].tolist(), expected[i].tolist())), None
    return None, out


# ---- running a client --------------------------------------------------------------------------

_CLIENTS = []


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_clients():
    for proc in list(_CLIENTS):
        kill_group(proc)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Run:
    def __init__(self, rows, wall, client_cpu, server_cpu, background, failure):
        self.rows = rows
        self.wall = wall
        self.client_cpu = client_cpu
        self.server_cpu = server_cpu
        self.background = background
        self.failure = failure
        self.startup = None  # the 1-row run's wall time, same round

    @property
    def rps(self):
        return self.rows / self.wall

    @property
    def rps_net(self):
        if self.startup is None or self.wall - self.startup <= 0:
            return None
        return self.rows / (self.wall - self.startup)


def run_client(tool, settings, server, src, expected, workdir, label):
    """Time one client command from Popen to exit and check what it wrote."""
    ext = ".csv" if tool.inputs == "csv" else ".jsonl"
    dst = os.path.join(workdir, "out-%s%s" % (label, ext))
    if os.path.exists(dst):
        os.remove(dst)
    argv = tool.build(settings, server.port if server else None, src, dst)
    env = dict(os.environ, MODEL_NAME=srv.MODEL_CLASS) if tool.name == "predict" else None
    logpath = os.path.join(workdir, "client-%s.log" % label)
    cpu0, busy0 = children_cpu(), srv.machine_busy_seconds()
    scpu0 = server.cpu_seconds() if server else 0.0
    failure = None
    with open(logpath, "wb") as logf:
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=srv.REPO_DIR, env=env, stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        _CLIENTS.append(proc)
        try:
            rc = proc.wait(timeout=CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
            failure = "no exit after %.0f s (killed)" % CLIENT_TIMEOUT
        finally:
            if proc.poll() is None:
                kill_group(proc)
                proc.wait()
            _CLIENTS.remove(proc)
        wall = time.monotonic() - started
    client_cpu = children_cpu() - cpu0
    server_cpu = server.cpu_seconds() - scpu0 if server else None
    other = srv.machine_busy_seconds() - busy0 - client_cpu - (server_cpu or 0.0)
    background = max(0.0, other) / (wall * NCPU)
    if failure is None and rc != 0:
        failure = "exit code %s" % rc
    if failure is None:
        failure, _ = check_output(tool, dst, expected)
    if failure:
        failure += "; its log: %s" % tail(logpath)
    elif os.path.exists(dst):
        os.remove(dst)  # tens of MB per run; checked
    return Run(len(expected), wall, client_cpu, server_cpu, background, failure), argv


def tail(path, n=6):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(lines[-n:]) or "(empty)"
    except OSError:
        return "(no log)"


def first_answers(tool, settings, server, src, workdir, n):
    """The tool's answers to the first rows (kept, for the agreement line)."""
    ext = ".csv" if tool.inputs == "csv" else ".jsonl"
    dst = os.path.join(workdir, "agree-%s%s" % (tool.name, ext))
    argv = tool.build(settings, server.port if server else None, src, dst)
    env = dict(os.environ, MODEL_NAME=srv.MODEL_CLASS) if tool.name == "predict" else None
    subprocess.run(argv, cwd=srv.REPO_DIR, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                   timeout=CLIENT_TIMEOUT, start_new_session=True)
    try:
        return tool.parse(dst, n)
    except (CheckFailed, OSError, ValueError, KeyError, IndexError, TypeError) as e:
        raise CheckFailed("%s on its first %d rows: %s" % (tool.label, n, e))


# ---- the run -----------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100000, help="rows in the input (default 100000)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds; the median is reported (default 3)")
    ap.add_argument("--tools", default=",".join(DEFAULT_TOOLS),
                    help="comma list of %s (default: %s; batch-rows is added when per-row is "
                         "seldon-batch-processor's best)" % (", ".join(TOOL_ORDER), ",".join(DEFAULT_TOOLS)))
    ap.add_argument("--tune-rows", type=int, default=10000,
                    help="rows each candidate setting is tried on (default 10000)")
    ap.add_argument("--tune-passes", type=int, default=2, help="passes over the candidates (default 2)")
    ap.add_argument("--no-tune", action="store_true",
                    help="skip the tuning: use each tool's first candidate (the best found so far)")
    ap.add_argument("--server-workers", type=int, default=1,
                    help="gunicorn workers of the seldon-core and modelkiln servers (default 1; "
                         "MLServer runs one process, parallel_workers 0, as in bench/run.py)")
    srv.add_peer_arguments(ap, "interpreter for modelkiln's server and clients")
    ap.add_argument("--output", default=os.path.join(srv.BENCH_DIR, "RESULTS.md"),
                    help="results file whose 'File and batch jobs' section is replaced")
    ap.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = ap.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in args.tools if t not in TOOL_ORDER]
    if bad:
        ap.error("unknown tool(s) %s: the tools are %s" % (", ".join(bad), ", ".join(TOOL_ORDER)))
    if args.rows < 10 or args.rounds < 1 or args.tune_passes < 1 or args.server_workers < 1:
        ap.error("--rows must be >= 10, --rounds, --tune-passes and --server-workers >= 1")
    args.tune_rows = max(10, min(args.tune_rows, args.rows))
    return args


def start_servers(names, args, logdir):
    kinds = srv.server_kinds(args.python, args.seldon_venv, args.v2_venv, args.asgi_venv)
    running = {}
    for name in names:
        workers = 1 if name == "mlserver" else args.server_workers
        server = srv.Server(kinds[name], workers, logdir).start()
        secs = server.wait_ready()
        server.wait_grpc()
        running[name] = server
        log("  %-9s ready in %.2f s on port %d (%d worker(s))" % (name, secs, server.port, workers))
    return running


def check_server(name, server, row, expected):
    """One request with one row: the server answers the model's numbers."""
    if name == "mlserver":
        body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": row}]}
        path = "/v2/models/%s/infer" % srv.MODEL_CLASS
    else:
        body = {"data": {"ndarray": [row]}}
        path = srv.PREDICT_PATH
    status, raw, _ = server.post(path, json.dumps(body).encode())
    if status != 200:
        raise RuntimeError("%s answers %d: %s" % (name, status, raw[:300]))
    doc = json.loads(raw)
    if name == "mlserver":
        got = doc["outputs"][0]["data"]
    else:
        data = doc["data"]
        got = data["tensor"]["values"] if "tensor" in data else data["ndarray"][0]
    if not np.allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE):
        raise RuntimeError("%s answers %s, the model %s" % (name, got, expected.tolist()))


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def tune(tool, server, src, expected, workdir, passes):
    """{candidate index: [rows/s per pass]} and failures; the candidates run in turn, in reverse
    order on every other pass."""
    results, failures = {}, {}
    order = list(range(len(tool.candidates)))
    for p in range(passes):
        if p == 1 and results:  # far behind after one pass: cannot win, not tried again
            top = max(r[0] for r in results.values())
            order = [i for i in order if i in results and results[i][0] >= SLOW_CANDIDATE * top]
        for i in (order if p % 2 == 0 else order[::-1]):
            settings = tool.candidates[i]
            run, _ = run_client(tool, settings, server, src, expected, workdir, "tune-%s-%d" % (tool.name, i))
            if run.failure:
                failures.setdefault(i, run.failure)
                log("  tune %-10s %-34s FAILED: %s" % (tool.name, tool.describe(settings), run.failure[:300]))
                continue
            results.setdefault(i, []).append(run.rps)
            log("  tune %-10s %-34s %8.0f rows/s (%d rows, %.2f s)"
                % (tool.name, tool.describe(settings), run.rps, run.rows, run.wall))
    return results, failures


def fmt_rps(x):
    return "n/a" if x is None else "{:,.0f}".format(x)


def fmt_s(x, digits=2):
    return "n/a" if x is None else "%.*f" % (digits, x)


def shown_command(argv, tmp):
    """argv as a user would type it, from the repository root, with the run's files named."""
    words = []
    for a in argv:
        if a.startswith(tmp + os.sep):
            a = os.path.basename(a)
        elif a.startswith(srv.REPO_DIR + os.sep):
            a = os.path.relpath(a, srv.REPO_DIR)
        words.append(shlex.quote(a))
    return " ".join(words)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    tools = make_tools(args)
    chosen = [t for t in TOOL_ORDER if t in args.tools]
    for name in chosen:
        if tools[name].missing:
            log("note: %s is n/a: %s" % (tools[name].label, tools[name].missing))

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    atexit.register(srv.stop_all)
    atexit.register(kill_clients)

    tmp = tempfile.mkdtemp(prefix="modelkiln-jobs-")
    started = time.time()
    loadavg_before = open("/proc/loadavg").read().split()[:3]
    log("modelkiln file/batch jobs bench: %d rows, %d round(s), tools %s; files and logs in %s"
        % (args.rows, args.rounds, ",".join(chosen), tmp))

    text, values = make_rows(args.rows)
    model = reference_model()
    expected = np.asarray(model.predict(values, list(COLUMNS)), dtype=float)
    files = {"full": write_inputs(tmp, "in", text, values),
             "probe": write_inputs(tmp, "probe", text[:1], values[:1]),
             "tune": write_inputs(tmp, "tune", text[:args.tune_rows], values[:args.tune_rows]),
             "agree": write_inputs(tmp, "agree", text[:10], values[:10])}
    expect = {"full": expected, "probe": expected[:1], "tune": expected[:args.tune_rows],
              "agree": expected[:10]}

    best = {}        # tool -> settings used in the rounds
    tuning = {}      # tool -> (results, failures)
    runs = {}        # tool -> [Run]
    commands = {}    # tool -> argv of its last full run
    agreement = {}   # tool -> argmax of the first 10 rows
    problems = []
    interrupted = False
    try:
        needed = sorted({tools[t].server for t in chosen if tools[t].server and not tools[t].missing},
                        key=["seldon", "mlserver", "modelkiln"].index)
        if needed:
            log("\n== servers")
        running = start_servers(needed, args, tmp)
        for name, server in running.items():
            check_server(name, server, values[0].tolist(), expected[0])

        def server_of(tool):
            return running.get(tool.server) if tool.server else None

        # 1. settings
        active = [t for t in chosen if not tools[t].missing]
        for name in [t for t in active if t != "batch-rows"] + [t for t in active if t == "batch-rows"]:
            tool = tools[name]
            if args.no_tune or len(tool.candidates) == 1:
                best[name] = tool.candidates[0]
                continue
            log("\n== tuning %s (%d candidates x %d passes, %s rows)"
                % (tool.label, len(tool.candidates), args.tune_passes,
                   "all" if tool.full_tune else "{:,}".format(args.tune_rows)))
            which = "full" if tool.full_tune else "tune"
            results, failures = tune(tool, server_of(tool), files[which][tool.inputs], expect[which],
                                     tmp, args.tune_passes)
            tuning[name] = (results, failures, which)
            if not results:
                problems.append("%s: every candidate setting failed" % tool.label)
                continue
            i = max(results, key=lambda k: max(results[k]))
            best[name] = tool.candidates[i]
            log("  best: %s" % tool.describe(best[name]))
        if ("seldon" in best and best["seldon"]["batch_size"] == 1 and "batch-rows" not in chosen
                and not tools["batch-rows"].missing):
            log("\nnote: seldon-batch-processor does best per row: adding batch-rows (like for like)")
            chosen.append("batch-rows")
            tool = tools["batch-rows"]
            best["batch-rows"] = tool.candidates[0]
            if not args.no_tune:
                results, failures = tune(tool, server_of(tool), files["tune"][tool.inputs], expect["tune"],
                                         tmp, args.tune_passes)
                tuning["batch-rows"] = (results, failures, "tune")
                if results:
                    best["batch-rows"] = tool.candidates[max(results, key=lambda k: max(results[k]))]

        # 2. the same 10 rows through every tool: their answers agree
        timed = [t for t in chosen if t in best]
        for name in timed:
            tool = tools[name]
            try:
                out = first_answers(tool, best[name], server_of(tool), files["agree"][tool.inputs], tmp, 10)
            except CheckFailed as e:
                problems.append(str(e))
                continue
            agreement[name] = out.argmax(axis=1).tolist()

        # 3. timed rounds, tools interleaved
        order = list(timed)
        for r in range(args.rounds):
            log("\n== round %d/%d" % (r + 1, args.rounds))
            for name in order:
                tool = tools[name]
                server = server_of(tool)
                probe, _ = run_client(tool, best[name], server, files["probe"][tool.inputs], expect["probe"],
                                      tmp, "probe-%s-%d" % (name, r))
                run, argv_used = run_client(tool, best[name], server, files["full"][tool.inputs],
                                            expect["full"], tmp, "full-%s-%d" % (name, r))
                commands[name] = argv_used
                if probe.failure:
                    problems.append("%s round %d, 1-row run: %s" % (tool.label, r + 1, probe.failure))
                else:
                    run.startup = probe.wall
                runs.setdefault(name, []).append(run)
                if run.failure:
                    problems.append("%s round %d: %s" % (tool.label, r + 1, run.failure))
                    log("  %-32s FAILED: %s" % (tool.label, run.failure[:400]))
                    continue
                log("  %-32s %9s rows/s  (%.2f s; start-up %s s; w/o start-up %s rows/s; client CPU %.2f s%s)"
                    % (tool.label, fmt_rps(run.rps), run.wall, fmt_s(run.startup), fmt_rps(run.rps_net),
                       run.client_cpu, "" if run.server_cpu is None else ", server CPU %.2f s" % run.server_cpu))
            for name, server in running.items():
                if server.proc.poll() is not None:
                    raise RuntimeError("%s died:\n%s" % (name, server.log_tail()))
            order = order[1:] + order[:1]
    except KeyboardInterrupt:
        interrupted = True
        log("\ninterrupted: stopping clients and servers (files and logs kept in %s)" % tmp)
    except (srv.ServerError, RuntimeError, OSError) as e:
        log("\nerror: %s\n(files and logs kept in %s)" % (e, tmp))
        return 1
    finally:
        kill_clients()
        srv.stop_all()
    if interrupted:
        return 130
    elapsed = time.time() - started

    report = build_report(args, argv, tools, chosen, best, tuning, runs, commands, agreement, problems,
                          tmp, elapsed, loadavg_before)
    log("\n" + report["console"])
    if problems:
        log("\nProblems:\n" + "\n".join("- " + p for p in problems))
        log("files and logs kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    log("\n(%.1f min)" % (elapsed / 60))
    if not args.no_write:
        write_section(args.output, report["markdown"])
        log("wrote the 'File and batch jobs' section of %s" % args.output)
    return 0 if not problems else 1


# ---- the report --------------------------------------------------------------------------------

def summary(runs):
    ok = [r for r in runs if not r.failure]
    return {
        "ok": ok,
        "failed": len(runs) - len(ok),
        "rps": median([r.rps for r in ok]),
        "rps_net": median([r.rps_net for r in ok]),
        "wall": median([r.wall for r in ok]),
        "startup": median([r.startup for r in ok]),
        "client_cpu": median([r.client_cpu for r in ok]),
        "server_cpu": median([r.server_cpu for r in ok]),
        "background": median([r.background for r in ok]),
    }


def build_report(args, argv, tools, chosen, best, tuning, runs, commands, agreement, problems, tmp,
                 elapsed, loadavg_before):
    sums = {name: summary(runs.get(name, [])) for name in chosen}
    rows = ["| tool | settings | rows/s (median) | rounds, rows/s | w/o start-up, rows/s | start-up s "
            "| wall s | client CPU s | server CPU s |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for name in chosen:
        tool, s = tools[name], sums[name]
        if tool.missing:
            rows.append("| %s | n/a (%s) | | | | | | | |" % (tool.label, tool.missing))
            continue
        if name not in best:
            rows.append("| %s | n/a (no setting worked) | | | | | | | |" % tool.label)
            continue
        rounds = ", ".join("FAILED" if r.failure else fmt_rps(r.rps) for r in runs.get(name, []))
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            tool.label, tool.describe(best[name]), fmt_rps(s["rps"]), rounds or "n/a",
            fmt_rps(s["rps_net"]), fmt_s(s["startup"]), fmt_s(s["wall"]), fmt_s(s["client_cpu"]),
            fmt_s(s["server_cpu"])))
    table = "\n".join(rows)

    ratio_lines = []
    for label, a, b, threshold in TARGETS:
        if a not in chosen or b not in chosen:
            continue
        ra, rb = sums[a]["rps"], sums[b]["rps"]
        na, nb = sums[a]["rps_net"], sums[b]["rps_net"]
        if ra is None or rb is None:
            verdict = "n/a (%s)" % "; ".join(
                "%s: %s" % (tools[t].label, tools[t].missing or "no valid run") for t in (a, b)
                if sums[t]["rps"] is None)
            ratio_lines.append("- %s: %s%s" % (label, verdict,
                                                " (target >= %gx)" % threshold if threshold else ""))
            continue
        ratio = ra / rb
        net = " (w/o start-up: %.1fx)" % (na / nb) if na and nb else ""
        if threshold:
            verdict = "PASS" if ratio >= threshold else "FAIL"
            ratio_lines.append("- **%s** %s: %.1fx (target >= %gx)%s" % (verdict, label, ratio, threshold, net))
        else:
            ratio_lines.append("- %s: %.1fx (shown, not graded)%s" % (label, ratio, net))
    ratios = "\n".join(ratio_lines)

    tune_md = []
    for name in chosen:
        if name not in tuning:
            continue
        results, failures, which = tuning[name]
        tool = tools[name]
        n = args.rows if which == "full" else args.tune_rows
        tune_md += ["", "%s, %s rows per try (rows/s with start-up; best in bold; one value: below half "
                    "the best after the first pass, not tried again):" % (tool.label, "{:,}".format(n)), "",
                    "| settings | rows/s per pass | fastest |", "|---|---|---:|"]
        for i, settings in enumerate(tool.candidates):
            if i in results:
                cell = fmt_rps(max(results[i]))
                if settings == best.get(name):
                    cell = "**%s**" % cell
                tune_md.append("| %s | %s | %s |" % (tool.describe(settings),
                                                     ", ".join(fmt_rps(x) for x in results[i]), cell))
            elif i in failures:
                tune_md.append("| %s | FAILED: %s | |" % (tool.describe(settings),
                                                         failures[i][:200].replace("|", "/")))
    tuning_text = "\n".join(tune_md).strip()

    if agreement:
        ref = None
        same = True
        for name in agreement:
            ref = ref or agreement[name]
            same = same and agreement[name] == ref
        agree_text = ("argmax of the first 10 rows: %s in every tool (%s)" % (
            " ".join(str(x) for x in ref), ", ".join(tools[n].label for n in agreement))
            if same else "argmax of the first 10 rows DIFFERS: " + "; ".join(
                "%s %s" % (tools[n].label, agreement[n]) for n in agreement))
        if not same:
            problems.append(agree_text)
    else:
        agree_text = "argmax of the first 10 rows: no tool ran"

    shown = {name: shown_command(commands[name], tmp) for name in chosen if name in commands}
    cmd_lines = []
    for name in chosen:
        if name in shown:
            prefix = "MODEL_NAME=%s " % srv.MODEL_CLASS if name == "predict" else ""
            cmd_lines.append("- %s: `%s%s`" % (tools[name].label, prefix, shown[name]))

    words = [os.path.relpath(sys.executable, srv.REPO_DIR) if sys.executable.startswith(srv.REPO_DIR + os.sep)
             else sys.executable, os.path.relpath(os.path.abspath(__file__), srv.REPO_DIR)] + argv
    command = " ".join(shlex.quote(w) for w in words)
    versions = ["modelkiln: %s" % srv.versions_of(args.python, ["modelkiln", "numpy", "gunicorn", "orjson"])]
    if any(tools[t].server == "seldon" for t in chosen if not tools[t].missing):
        versions.append("seldon: %s" % srv.versions_of(os.path.join(args.seldon_venv, "bin", "python"),
                                                   ["seldon-core", "requests", "numpy", "protobuf", "gunicorn"]))
    if any(tools[t].server == "mlserver" for t in chosen if not tools[t].missing):
        versions.append("mlserver: %s" % srv.versions_of(os.path.join(args.v2_venv, "bin", "python"),
                                                     ["mlserver", "tritonclient", "aiohttp", "numpy", "uvicorn"]))
    background = median([sums[n]["background"] for n in chosen if sums[n]["background"] is not None])
    loadavg_after = open("/proc/loadavg").read().split()[:3]
    noise = ("background load (CPU used by anything but the client and its server during the timed runs, "
             "median): %s of %d CPUs" % ("n/a" if background is None else "%.0f%%" % (100 * background), NCPU))

    console = "\n\n".join(x for x in [
        table, "Ratios (median rows/s, start-up included):\n" + (ratios or "(none: a peer did not run)"),
        agree_text, noise, "Settings tried:\n" + tuning_text if tuning_text else ""] if x)

    md = [
        JOBS_MARK,
        "## File and batch jobs",
        "",
        "Generated by `bench/jobs.py`; see `bench/README.md` (\"File and batch jobs\").",
        "",
        "- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "- command: `%s` (from the repository root)" % command,
        "- machine: %d CPUs (nproc), %s, Python %s (harness)" % (NCPU, platform.platform(), platform.python_version()),
    ] + ["- %s" % v for v in versions] + [
        "- input: %s rows of 4 FP64 features (iris-like, 2 decimals, columns %s), the same numbers in each "
        "tool's format; model `bench/model/IrisSoftmax.py` (softmax of X @ W + b, 3 outputs) in every tool"
        % ("{:,}".format(args.rows), ",".join(COLUMNS)),
        "- servers (started and ready before any clock starts, on 127.0.0.1, as `bench/servers.py` starts "
        "them): %s" % servers_text(args, tools, chosen),
        "- %d round(s), tools interleaved (the order rotates); rows/s = rows / wall time of the client "
        "command from start to exit (its start-up included); w/o start-up subtracts the same round's run "
        "on a 1-row file; every output checked: all %s rows answered once, no error lines, all within "
        "1e-9 of the model's own answer" % (args.rounds, "{:,}".format(args.rows)),
        "- load average before / after: %s / %s; run took %.1f min"
        % (" ".join(loadavg_before), " ".join(loadavg_after), elapsed / 60),
        "- " + noise,
        "",
        "### Ratios",
        "",
        ratios or "(none: a peer did not run)",
        "",
        "### Rows per second",
        "",
        table,
        "",
        agree_text + ".",
        "",
        "Commands of the last round (files in a temporary folder; ports free ones):",
        "",
    ] + cmd_lines
    if tuning_text:
        md += ["", "### Settings tried", "", tuning_text]
    md += ["", "### Notes on the peers", "", PEER_NOTES.strip()]
    if problems:
        md += ["", "### Errors", ""] + ["- " + p.replace("\n", " ") for p in problems]
    md += ["", JOBS_END, ""]
    return {"console": console, "markdown": "\n".join(md)}


def servers_text(args, tools, chosen):
    used = {tools[t].server for t in chosen if tools[t].server and not tools[t].missing}
    parts = []
    if "seldon" in used:
        parts.append("seldon-core-microservice at %d gunicorn worker(s)" % args.server_workers)
    if "mlserver" in used:
        parts.append("`mlserver start` with `parallel_workers: 0` (one process)")
    if "modelkiln" in used:
        parts.append("modelkiln (`python -m python_runtime`) at %d worker(s)" % args.server_workers)
    return "; ".join(parts) or "none (in-process only)"


def write_section(path, section):
    """Replace this bench's section of the results file (between its marks), or append it."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        text = ""
    if JOBS_MARK in text:
        head, rest = text.split(JOBS_MARK, 1)
        tail_text = rest.split(JOBS_END, 1)[1].lstrip("\n") if JOBS_END in rest else ""
        text = head.rstrip("\n") + "\n\n" + section + ("\n" + tail_text if tail_text else "")
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + section
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
