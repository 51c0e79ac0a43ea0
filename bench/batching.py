"""Adaptive batching: modelkiln batched against modelkiln unbatched and MLServer's adaptive
batching, on a model whose cost is mostly per call; and the queue limit under overload.

    .venv/bin/python bench/batching.py                       # 5 rounds of 5 s, c=1, 8, 32
    .venv/bin/python bench/batching.py --output bench/RESULTS-batching.md
    .venv/bin/python bench/batching.py --device cuda --no-queue --rounds 3

The model is bench/apps/torch-mlp (a PyTorch MLP, 64 FP32 inputs, 8 outputs, one intra-op
thread) on ``--device``. Every server gets the same V2 REST JSON request, one row (``[1, 64]``
FP32) per request, from wrk on loopback, at each concurrency; the servers run side by side (one
worker or process each, idle while another is measured), in an order that rotates every round:
- unbatched: modelkiln (``.venv-frameworks``: the runtime with torch), MODELKILN_MAX_BATCH_SIZE=1;
- batched: the same with MODELKILN_MAX_BATCH_SIZE=``--batch-size`` and
  MODELKILN_MAX_BATCH_TIME=``--batch-time`` (the window);
- batched-w0: the same with no window (MODELKILN_MAX_BATCH_TIME=0: a batch is what waited
  while the model ran), to tell the window's cost from the rest of the batched path's;
- mlserver: MLServer 1.7.1 (``.venv-v2``) with ``max_batch_size`` / ``max_batch_time`` set to
  the same values in model-settings.json, through bench/apps/torch-mlp/mlserver_torch.py
  (``parallel_workers`` ``--mlserver-workers``, 0 as in bench/servers.py: one process).
Before timing, 32 different rows sent at once must come back from every server equal (1e-4)
to the unbatched server's answers, one by one.

Queue rows (unless ``--no-queue``): ``limited`` is the batched server with
MODELKILN_QUEUE_LIMIT=``--queue-limit`` L. Runs: batched at c=L (the load the limit lets in:
the latency admitted requests should keep), limited at each c of ``--overload``, and batched
at the largest of them (the same overload without a limit). Refused requests are retried at
once (wrk's closed loop; Retry-After is not honoured), the harshest overload. These runs give
wrk one connection per thread, so its Lua script can time each request itself and keep the
latencies of 200s and 503s apart.

Columns: median over rounds of req/s and of wrk's p50/p99; server CPU (user + system of the
whole process tree over the run) and wrk's own CPU per request; for the batched server, the
mean rows per model call (from its modelkiln_batch_rows metric). ``run(device=...)`` is the
importable part (bench/gpu.py calls it); ``report(results)`` writes its Markdown.
"""

import argparse
import concurrent.futures
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import report as rep  # noqa: E402
import servers as srv  # noqa: E402
import wrk  # noqa: E402

MODEL = "TorchMLP"
MODEL_DIR = os.path.join(BENCH_DIR, "apps", "torch-mlp")
INFER = "/v2/models/%s/infer" % MODEL
INPUTS = 64
MAIN = ("unbatched", "batched", "batched-w0", "mlserver")
NCPU = os.cpu_count() or 1

STATUS_LUA = """
-- added by bench/batching.py: one connection per thread, so request() and response() alternate
-- and the time between them is that request's latency; kept as status * 1e9 + microseconds in
-- a flat table (wrk's thread:get crashes copying nested tables)
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local clock = ffi.new("bench_timespec")
local function micros()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end
local sent = 0
local threads = {}
latencies = {}
setup = function(thread) table.insert(threads, thread) end
request = function() sent = micros(); return wrk.format() end
response = function(status, headers, body)
  latencies[#latencies + 1] = status * 1e9 + math.floor(micros() - sent)
end
local summary_done = done
done = function(summary, latency, requests)
  summary_done(summary, latency, requests)
  local out = assert(io.open(%(out)s, "w"))
  for _, thread in ipairs(threads) do
    for _, value in ipairs(thread:get("latencies")) do
      out:write(string.format("%%d %%d\\n", math.floor(value / 1e9), value %% 1e9))
    end
  end
  out:close()
end
"""

MODEL_TIMING = """
import json, sys, time
sys.path.insert(0, %(dir)r)
from TorchMLP import TorchMLP
import numpy as np
model, out = TorchMLP(), {}
model.load()
for rows in (1, 8, 32):
    X = np.random.default_rng(0).uniform(-1, 1, (rows, %(inputs)d)).astype(np.float32)
    times = []
    for _ in range(300):
        started = time.perf_counter()
        model.predict(X)
        times.append(time.perf_counter() - started)
    out[rows] = sorted(times)[len(times) // 2] * 1000
print(json.dumps(out))
"""


def rows(count):
    """``count`` different deterministic rows of INPUTS values in [-1, 1]."""
    state, out = 12345, []
    for _ in range(count):
        row = []
        for _ in range(INPUTS):
            state = (state * 1103515245 + 12345) % 2 ** 31
            row.append(round(state / 2 ** 30 - 1.0, 4))
        out.append(row)
    return out


def body(row):
    return json.dumps({"inputs": [{"name": "input-0", "shape": [1, INPUTS], "datatype": "FP32",
                                   "data": row}]}).encode()


class Config(object):
    def __init__(self, device="cpu", concurrency=(1, 8, 32), rounds=5, duration=5,
                 batch_size=32, batch_time=0.002, queue_limit=32, overload=(48, 128), queue=True,
                 torch_threads=1, mlserver_workers=0, frameworks_venv=None, v2_venv=None,
                 warmup=2):
        self.device, self.concurrency, self.rounds = device, tuple(concurrency), rounds
        self.duration, self.batch_size, self.batch_time = duration, batch_size, batch_time
        self.queue_limit, self.overload, self.queue = queue_limit, tuple(overload), queue
        self.torch_threads, self.mlserver_workers, self.warmup = (torch_threads,
                                                                  mlserver_workers, warmup)
        self.frameworks_venv = frameworks_venv or os.environ.get(
            "MODELKILN_FRAMEWORKS_VENV", os.path.join(REPO_DIR, ".venv-frameworks"))
        self.v2_venv = v2_venv or os.environ.get("MODELKILN_V2_VENV",
                                                 os.path.join(REPO_DIR, ".venv-v2"))

    @property
    def python(self):
        return os.path.join(self.frameworks_venv, "bin", "python")

    def site_packages(self):
        return subprocess.run([self.python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                               "['purelib'])"], capture_output=True, text=True, check=True,
                              timeout=60).stdout.strip()


def server_kinds(cfg, metrics_ports):
    """name -> srv.ServerKind; metrics_ports gets each modelkiln's metrics port by REST port."""
    common = {"BENCH_DEVICE": cfg.device, "BENCH_TORCH_THREADS": str(cfg.torch_threads)}

    def modelkiln(workers, ports, workdir):
        metrics_ports[ports[0]] = ports[1]
        return [cfg.python, "-m", "python_runtime", MODEL, "--service-type", "MODEL",
                "--workers", "1", "--threads", "1", "--http-port", str(ports[0]),
                "--metrics-port", str(ports[1])]

    def mlserver(workers, ports, workdir):
        folder = os.path.join(workdir, "mlserver-%d" % ports[0], MODEL)
        os.makedirs(folder)
        settings = {"debug": False, "parallel_workers": cfg.mlserver_workers, "host": srv.HOST,
                    "http_port": ports[0], "grpc_port": ports[1], "metrics_port": ports[2]}
        model = {"name": MODEL, "implementation": "mlserver_torch.TorchMLPRuntime",
                 "max_batch_size": cfg.batch_size, "max_batch_time": cfg.batch_time,
                 "parameters": {"extra": {"model_name": MODEL, "model_dir": MODEL_DIR,
                                          "append_path": [cfg.site_packages()]}}}
        for name, doc in (("settings.json", settings), ("model-settings.json", model)):
            with open(os.path.join(folder, name), "w") as handle:
                json.dump(doc, handle, indent=2)
        return [os.path.join(cfg.v2_venv, "bin", "mlserver"), "start", folder]

    def batching(size, limit, window=cfg.batch_time):
        return dict(common, PYTHONPATH=REPO_DIR, GRPC_WORKERS="0",
                    MODELKILN_MAX_BATCH_SIZE=str(size), MODELKILN_MAX_BATCH_TIME=repr(window),
                    MODELKILN_QUEUE_LIMIT=str(limit))

    def kind(name, env):
        return srv.ServerKind(name, cfg.python, modelkiln, "/ready", MODEL_DIR, 2,
                              protocols=(srv.V2,), env=env)

    kinds = {"unbatched": kind("unbatched", batching(1, 0)),
             "batched": kind("batched", batching(cfg.batch_size, 0)),
             "batched-w0": kind("batched-w0", batching(cfg.batch_size, 0, 0.0)),
             "mlserver": srv.ServerKind(
                 "mlserver", os.path.join(cfg.v2_venv, "bin", "mlserver"), mlserver,
                 "/v2/health/ready", BENCH_DIR, 3, protocols=(srv.V2,),
                 env=dict(common, PYTHONPATH=os.pathsep.join(
                     [srv.MLSERVER_RUNTIME_DIR, MODEL_DIR])))}
    if cfg.queue:
        kinds["limited"] = kind("limited", batching(cfg.batch_size, cfg.queue_limit))
    return kinds


def children_cpu():
    """CPU seconds of this process's reaped children: each finished wrk run lands here."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def batch_rows(metrics_port):
    """(rows, model calls) the batcher has counted so far."""
    _, text, _ = srv.http_request(metrics_port, "GET", "/metrics", timeout=10)
    found = {}
    for line in text.decode().splitlines():
        for name in ("modelkiln_batch_rows_sum", "modelkiln_batch_rows_count"):
            if line.startswith(name + " "):
                found[name] = float(line.split()[1])
    return found.get("modelkiln_batch_rows_sum", 0.0), found.get("modelkiln_batch_rows_count", 0.0)


def answer(port, row):
    status, got, _ = srv.http_request(port, "POST", INFER, body(row), timeout=30)
    if status != 200:
        raise RuntimeError("status %d: %s" % (status, got[:300]))
    return json.loads(got)["outputs"][0]["data"]


def check(servers):
    """Every server answers 32 different rows sent at once as the unbatched server answers
    them one by one; the rows per call the batched server made of them."""
    sample = rows(32)
    expected = [answer(servers["unbatched"].port, row) for row in sample]
    merged = None
    for name, server in servers.items():
        before = batch_rows(server.metrics_port) if name == "batched" else None
        with concurrent.futures.ThreadPoolExecutor(len(sample)) as pool:
            got = list(pool.map(lambda row: answer(server.port, row), sample))
        for number, (mine, theirs) in enumerate(zip(got, expected)):
            if len(mine) != len(theirs) or any(abs(a - b) > 1e-4 * (1 + abs(b))
                                               for a, b in zip(mine, theirs)):
                raise RuntimeError("%s answered row %d with %s, unbatched with %s"
                                   % (name, number, mine, theirs))
        if before is not None:
            after = batch_rows(server.metrics_port)
            merged = (after[0] - before[0]) / max(1.0, after[1] - before[1])
    return merged


def percentile(values, share):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered))) - 1))]


class Runner(object):
    """Timed wrk runs against the started servers, with the CPU they took."""

    def __init__(self, cfg, servers, work):
        self.cfg, self.servers, self.work = cfg, servers, work
        first = rows(1)[0]
        headers = {"Content-Type": "application/json"}
        self.script = wrk.write_script(work, "row", body(first), INFER, headers)
        self.status_out = os.path.join(work, "latencies.txt")
        self.status_script = wrk.write_script(work, "row-status", body(first), INFER, headers)
        with open(self.status_script, "a") as handle:
            handle.write(STATUS_LUA % {"out": wrk.lua_string(self.status_out)})

    def measure(self, name, c, by_status=False):
        server = self.servers[name]
        metrics = server.metrics_port if name.startswith(("batched", "limited")) else None
        rows0 = batch_rows(metrics) if metrics else None
        ours0 = {n: s.cpu_seconds() for n, s in self.servers.items()}
        busy0, kids0 = srv.machine_busy_seconds(), children_cpu()
        res = wrk.run("http://%s:%d" % (srv.HOST, server.port),
                      self.status_script if by_status else self.script, c,
                      int(self.cfg.duration), threads=c if by_status else None)
        busy1, kids1 = srv.machine_busy_seconds(), children_cpu()
        ours = {n: s.cpu_seconds() - ours0[n] for n, s in self.servers.items()}
        requests = max(1, res.requests)
        sample = {"rps": res.rps, "p50": res.p50_ms, "p99": res.p99_ms,
                  "srv": ours[name] * 1000 / requests,
                  "cli": (kids1 - kids0) * 1000 / requests,
                  "cli_cores": (kids1 - kids0) / res.duration_s,
                  "background": max(0.0, (busy1 - busy0) - sum(ours.values())
                                    - (kids1 - kids0)) / (res.duration_s * NCPU)}
        if rows0 is not None:
            rows1 = batch_rows(metrics)
            sample["rows"] = (rows1[0] - rows0[0]) / max(1.0, rows1[1] - rows0[1])
        if res.socket_errors or (res.status_errors and not by_status):
            raise RuntimeError("%s c=%d: wrk saw errors:\n%s" % (name, c, res.raw))
        if by_status:
            found = {}
            with open(self.status_out) as handle:
                for line in handle:
                    status, micros = line.split()
                    found.setdefault(int(float(status)), []).append(float(micros) / 1000)
            unexpected = set(found) - {200, 503}
            if unexpected:
                raise RuntimeError("%s c=%d: statuses %s" % (name, c, sorted(unexpected)))
            for key, status in (("ok", 200), ("refused", 503)):
                values = found.get(status, [])
                sample[key + "_rps"] = len(values) / res.duration_s
                sample[key + "_p50"] = percentile(values, 0.50)
                sample[key + "_p99"] = percentile(values, 0.99)
        return sample


def model_cost(cfg):
    """Median ms of one predict call on 1, 8 and 32 rows, in one process on this machine."""
    env = dict(os.environ, BENCH_DEVICE=cfg.device, BENCH_TORCH_THREADS=str(cfg.torch_threads))
    got = subprocess.run([cfg.python, "-c", MODEL_TIMING % {"dir": MODEL_DIR, "inputs": INPUTS}],
                         env=env, capture_output=True, text=True, timeout=300)
    if got.returncode != 0:
        raise RuntimeError("timing the model failed:\n%s" % got.stderr[-2000:])
    return {int(k): v for k, v in json.loads(got.stdout).items()}


def run(device="cpu", concurrency=(1, 8, 32), rounds=5, log=print, **options):
    """Start the servers, check them, run the interleaved rounds; the results as a dict
    (``report`` turns it into Markdown). Options: those of Config."""
    cfg = Config(device=device, concurrency=concurrency, rounds=rounds, **options)
    if not wrk.find_wrk():
        raise RuntimeError("wrk is not on PATH (apt-get install wrk)")
    for path, hint in ((cfg.python, "make frameworks-venv"),
                       (os.path.join(cfg.v2_venv, "bin", "mlserver"), "make v2-venv")):
        if not os.path.exists(path):
            raise RuntimeError("%s is missing: %s" % (path, hint))
    started = time.monotonic()
    results = {"config": cfg, "main": {}, "queue": {}, "cost": model_cost(cfg)}
    log("model call, ms (median, in one process): %s"
        % ", ".join("%d rows %.3f" % kv for kv in sorted(results["cost"].items())))
    work = tempfile.mkdtemp(prefix="modelkiln-bench-batching-")
    metrics_ports = {}
    servers = {}
    try:
        for name, kind in server_kinds(cfg, metrics_ports).items():
            servers[name] = srv.Server(kind, 1, work).start()
        for name, server in servers.items():
            server.wait_ready(timeout=180)
            server.metrics_port = metrics_ports.get(server.port)
        results["check_rows"] = check(servers)
        log("answers checked; 32 rows at once made %.1f rows per call of the batched server"
            % results["check_rows"])
        runner = Runner(cfg, servers, work)
        for name in servers:  # warm up: torch's allocator, the servers' threads
            wrk.run("http://%s:%d" % (srv.HOST, servers[name].port), runner.script, 8,
                    cfg.warmup)
        calibration = wrk.run("http://%s:%d" % (srv.HOST, servers["unbatched"].port),
                              write_get_script(work), 32, 3)
        results["wrk_ceiling"] = calibration.rps
        log("wrk alone (GET /v2/health/live, c=32): %.0f req/s" % calibration.rps)
        queue_runs = ([("batched", cfg.queue_limit)] + [("limited", c) for c in cfg.overload]
                      + [("batched", max(cfg.overload))]) if cfg.queue else []
        for number in range(rounds):
            order = MAIN[number % len(MAIN):] + MAIN[:number % len(MAIN)]
            for c in cfg.concurrency:
                for name in order:
                    sample = runner.measure(name, c)
                    results["main"].setdefault((name, c), []).append(sample)
                    log("[%d/%d] c=%-3d %-9s %7.0f req/s  p50 %6.2f  p99 %7.2f ms  srv %.3f  "
                        "wrk %.3f ms/req%s" % (number + 1, rounds, c, name, sample["rps"],
                                               sample["p50"], sample["p99"], sample["srv"],
                                               sample["cli"],
                                               "  %.1f rows/call" % sample["rows"]
                                               if "rows" in sample else ""))
            shift = number % max(1, len(queue_runs))
            for name, c in queue_runs[shift:] + queue_runs[:shift]:
                sample = runner.measure(name, c, by_status=True)
                results["queue"].setdefault((name, c), []).append(sample)
                log("[%d/%d] c=%-3d %-9s 200: %6.0f req/s p50 %6.2f p99 %7.2f ms; "
                    "503: %6.0f req/s p50 %s p99 %s ms" % (
                        number + 1, rounds, c, name, sample["ok_rps"], sample["ok_p50"],
                        sample["ok_p99"], sample["refused_rps"],
                        rep.fmt(sample["refused_p50"], "%.2f"),
                        rep.fmt(sample["refused_p99"], "%.2f")))
    finally:
        srv.stop_all()
    results["minutes"] = (time.monotonic() - started) / 60
    results["versions"] = "; ".join(
        srv.versions_of(python, modules) for python, modules in (
            (cfg.python, ("torch", "numpy")),
            (os.path.join(cfg.v2_venv, "bin", "python"), ("mlserver", "uvloop")))) + \
        "; %s" % subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split(
            " [")[0].strip()
    return results


def write_get_script(work):
    """wrk's script for GET /v2/health/live: what wrk alone can drive here."""
    path = wrk.write_script(work, "live", b"", "/v2/health/live", {})
    with open(path, "a") as handle:
        handle.write('wrk.method = "GET"\nwrk.body = nil\n')
    return path


def median_of(samples, key):
    values = [s[key] for s in samples if s.get(key) is not None]
    return statistics.median(values) if values else None


def ratios(results, mine, theirs, c):
    """The ratio of medians, and the smallest and largest ratio of one round."""
    a, b = results["main"].get((mine, c)), results["main"].get((theirs, c))
    if not a or not b:
        return None
    per_round = [x["rps"] / y["rps"] for x, y in zip(a, b)]
    return median_of(a, "rps") / median_of(b, "rps"), min(per_round), max(per_round)


def report(results, command=""):
    cfg = results["config"]
    cost = results["cost"]
    main = results["main"]
    window = cfg.batch_time * 1000
    out = []
    if command:
        out.append("command: `%s` (%.1f min, %d rounds of %g s, servers interleaved)"
                   % (command, results["minutes"], cfg.rounds, cfg.duration))
        out.append("")
    out.append("Model: bench/apps/torch-mlp on %s, torch intra-op threads %d; one call costs "
               "(ms, median in one process) %s. Batched: %d rows, window %g ms, both servers. "
               "Versions: %s. wrk alone reaches %.0f req/s here (GET, c=32)."
               % (cfg.device, cfg.torch_threads,
                  ", ".join("%.3f for %d row%s" % (v, k, "" if k == 1 else "s")
                            for k, v in sorted(cost.items())),
                  cfg.batch_size, window, results["versions"], results["wrk_ceiling"]))
    out += ["", "| conc | server | req/s (median) | min-max | p50 ms | p99 ms | server CPU "
            "ms/req | wrk CPU ms/req | rows per model call |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in cfg.concurrency:
        for name in MAIN:
            samples = main.get((name, c))
            if not samples:
                continue
            values = [s["rps"] for s in samples]
            out.append("| %d | %s | %.0f | %.0f-%.0f | %.2f | %.2f | %.3f | %.3f | %s |" % (
                c, name, statistics.median(values), min(values), max(values),
                median_of(samples, "p50"), median_of(samples, "p99"), median_of(samples, "srv"),
                median_of(samples, "cli"),
                rep.fmt(median_of(samples, "rows"), "%.1f", "")))
    out += ["", "| conc | batched / unbatched req/s (rounds: min-max) | batched / mlserver "
            "req/s (rounds: min-max) |", "|---:|---:|---:|"]
    for c in cfg.concurrency:
        cells = []
        for theirs in ("unbatched", "mlserver"):
            found = ratios(results, "batched", theirs, c)
            cells.append("%.2fx (%.2f-%.2f)" % found if found else "n/a")
        out.append("| %d | %s | %s |" % (c, cells[0], cells[1]))
    if results["queue"]:
        out += ["", "Queue limit %d (the `limited` server; `batched` has none), refused "
                "requests retried at once, wrk with one connection per thread:" % cfg.queue_limit,
                "", "| conc | server | 200 req/s | 200 p50 ms | 200 p99 ms | 503 req/s | 503 p50 "
                "ms | 503 p99 ms | server CPU ms/answer |", "|---:|---|---:|---:|---:|---:|---:|"
                "---:|---:|"]
        for (name, c), samples in sorted(results["queue"].items(), key=lambda kv: (kv[0][1],
                                                                                  kv[0][0])):
            out.append("| %d | %s | %.0f | %.2f | %.2f | %.0f | %s | %s | %.3f |" % (
                c, name, median_of(samples, "ok_rps"), median_of(samples, "ok_p50"),
                median_of(samples, "ok_p99"), median_of(samples, "refused_rps"),
                rep.fmt(median_of(samples, "refused_p50"), "%.2f"),
                rep.fmt(median_of(samples, "refused_p99"), "%.2f"), median_of(samples, "srv")))
    out += ["", aims(results)]
    background = [s["background"] for samples in list(main.values())
                  + list(results["queue"].values()) for s in samples]
    cores = [s["cli_cores"] for samples in list(main.values()) + list(results["queue"].values())
             for s in samples]
    out += ["", rep.background_text(background, NCPU) + "; wrk itself used at most %.2f of "
            "the %d cores in any run" % (max(cores) if cores else 0, NCPU) + "."]
    return "\n".join(out) + "\n"


def aims(results):
    """The issue's aims, each with its number and met / not met."""
    cfg, main = results["config"], results["main"]
    lines = []
    top = max(cfg.concurrency)
    for theirs, want in (("unbatched", 5.0), ("mlserver", 2.0)):
        found = ratios(results, "batched", theirs, top)
        if found:
            lines.append("- batched / %s req/s at c=%d: %.2fx, aim >= %gx: %s"
                         % (theirs, top, found[0], want, "met" if found[0] >= want else
                            "**not met**"))
    if main.get(("batched", 1)) and main.get(("unbatched", 1)):
        mine = median_of(main[("batched", 1)], "p50")
        theirs = median_of(main[("unbatched", 1)], "p50")
        bound = theirs + cfg.batch_time * 1000
        lines.append("- p50 at c=1: batched %.2f ms, unbatched %.2f ms + the %g ms window = "
                     "%.2f ms: %s" % (mine, theirs, cfg.batch_time * 1000, bound,
                                      "met" if mine <= bound else "**not met**"))
    reference = results["queue"].get(("batched", cfg.queue_limit))
    for c in cfg.overload:
        limited = results["queue"].get(("limited", c))
        if not limited or not reference:
            continue
        refused = median_of(limited, "refused_p99")
        lines.append("- c=%d against queue limit %d: refused (503) p99 %s ms, aim < 5 ms: %s; "
                     "admitted (200) p50 %.2f / p99 %.2f ms, against %.2f / %.2f ms at c=%d "
                     "without the limit"
                     % (c, cfg.queue_limit, rep.fmt(refused, "%.2f"),
                        "met" if refused is not None and refused < 5 else "**not met**",
                        median_of(limited, "ok_p50"), median_of(limited, "ok_p99"),
                        median_of(reference, "ok_p50"), median_of(reference, "ok_p99"),
                        cfg.queue_limit))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--batch-time", type=float, default=0.002, help="the window, seconds")
    ap.add_argument("--queue-limit", type=int, default=32)
    ap.add_argument("--overload", default="48,128",
                    help="connections of the queue rows above the limit")
    ap.add_argument("--no-queue", action="store_true", help="leave out the queue rows")
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--mlserver-workers", type=int, default=0,
                    help="MLServer's parallel_workers (0: the model in its one process)")
    ap.add_argument("--output", help="also write the Markdown here")
    args = ap.parse_args(argv)
    results = run(device=args.device,
                  concurrency=[int(x) for x in args.concurrency.split(",")],
                  rounds=args.rounds, duration=args.duration, batch_size=args.batch_size,
                  batch_time=args.batch_time, queue_limit=args.queue_limit,
                  overload=[int(x) for x in args.overload.split(",")],
                  queue=not args.no_queue,
                  torch_threads=args.torch_threads, mlserver_workers=args.mlserver_workers)
    command = ".venv/bin/python bench/batching.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    text = report(results, command.strip())
    sys.stdout.write("\n" + text)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
