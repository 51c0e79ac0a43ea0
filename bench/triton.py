"""A Triton Python-backend model served by modelkiln against the same folder in the tritonserver
that nvidia-pytriton bundles (2.51, CPU), same run, servers interleaved: V2 REST JSON with one
row and with 1000x4, the binary tensor extension with 1000x4 (wrk on loopback), and gRPC
ModelInfer with one row (Python client processes, each making one call at a time, the same for
both).

    .venv-triton/bin/python bench/triton.py                 # 5 rounds of 3 s, c=1, 8 and 32
    .venv-triton/bin/python bench/triton.py --model scale_batched     # with dynamic_batching
    .venv-triton/bin/python bench/triton.py --output /tmp/triton.md

The model is bench/apps/triton/scale (no dynamic_batching: every request is its own execute)
or, with ``--model scale_batched``, bench/apps/triton/scale_batched (the same math with
``dynamic_batching``, max_batch_size 1024: requests that arrive together reach one execute;
``--queue-delay-us`` sets its max_queue_delay_microseconds). Both servers serve the same copy
of the folder, whose instance group has ``--instances`` CPU instances: modelkiln
``python -m python_runtime <copy>`` from .venv (``--instances`` workers of one thread; it
batches by the folder's config.pbtxt), tritonserver (``make triton-venv``) on the repository
holding the copy (its default HTTP and gRPC threads). Both must give the same answer to each
payload, and the right answer to requests of different sizes sent at once, before timing.
Reports the median over rounds, the ratio modelkiln / triton, the median p50 latency, each
server's CPU per request (its whole process tree: Triton's Python-backend stubs included), the
rows per execute (modelkiln's batcher metrics, Triton's nv_inference_count /
nv_inference_exec_count) and the background load.

With ``--asgi`` (``make asgi-venv``) a third server joins the REST JSON rows:
bench/asgi_triton.py, the same math as a raw ASGI app on uvicorn (httptools, uvloop, orjson), one
process per instance, no checks. It is the ceiling of a Python server: what any single Python
process can reach on a row, so where it is below 1.5x Triton the aim is out of Python's reach.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, REPO_DIR)

import report  # noqa: E402
import servers as srv  # noqa: E402
import wrk  # noqa: E402
from tests.compat_triton.servers import Modelkiln, Tritonserver  # noqa: E402

REPOSITORY = Path(BENCH_DIR) / "apps" / "triton"
MODELS = ("scale", "scale_batched")
KINDS = ["modelkiln", "triton"]
ASGI = "asgi"  # --asgi: bench/asgi_triton.py on uvicorn, REST JSON rows only
NCPU = os.cpu_count() or 1
GRPC = "gRPC ModelInfer 1x4"


def rows_of(rows, offset=0):
    return ((np.arange(rows * 4, dtype=np.float32) + offset) % 7).reshape(rows, 4)


def json_body(rows, offset=0):
    return {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [rows, 4],
                        "data": rows_of(rows, offset).ravel().tolist()}]}


def binary_body(rows):
    raw = rows_of(rows).astype("<f4").tobytes()
    header = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [rows, 4],
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "parameters": {"binary_data_output": True}}).encode()
    return header + raw, {"Inference-Header-Content-Length": str(len(header)),
                          "Content-Type": "application/octet-stream"}


PAYLOADS = {
    "REST JSON 1x4": (json.dumps(json_body(1)).encode(), {"Content-Type": "application/json"}),
    "REST JSON 1000x4": (json.dumps(json_body(1000)).encode(),
                         {"Content-Type": "application/json"}),
    "REST binary 1000x4": binary_body(1000),
}


def grpc_call(target, model):
    """A function sending one ModelInfer of one row (raw contents), the request serialized
    once and the answer not parsed, as wrk does not parse bodies; and the parsed first
    answer."""
    import grpc
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name=model)
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 4])
    request.raw_input_contents.append(np.arange(4, dtype="<f4").tobytes())
    channel = grpc.insecure_channel(target)
    call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
    body = request.SerializeToString()
    answer = service_pb2.ModelInferResponse.FromString(call(body, timeout=10))
    check = [(o.name, o.datatype, list(o.shape)) for o in answer.outputs], list(
        answer.raw_output_contents)
    return (lambda: call(body, timeout=10)), check, channel


def grpc_client(target, model, duration, pipe):
    """One gRPC client process: its check answer, then, on "go", calls back to back for
    ``duration`` s; sends (calls, seconds, CPU seconds of the loop)."""
    call, check, _channel = grpc_call(target, model)
    pipe.send(check)
    pipe.recv()
    cpu, count = time.process_time(), 0
    started = time.perf_counter()
    end = started + duration
    while time.perf_counter() < end:
        if call():
            count += 1
    pipe.send((count, time.perf_counter() - started, time.process_time() - cpu))


def grpc_check(target, model):
    """The first answer of a gRPC client process (what the check compares)."""
    return GrpcLoad(target, model, 1, 0.0).run(lambda: None)[1][0]


def receive(pipe, timeout):
    if not pipe.poll(timeout):
        raise SystemExit("a gRPC client process sent nothing in %.0f s" % timeout)
    return pipe.recv()


class GrpcLoad(object):
    """``clients`` processes of grpc_client released together: (calls/s summed, the client
    CPU seconds of their loops, their check answers)."""

    def __init__(self, target, model, clients, duration):
        self.args = (target, model, duration)
        self.clients = clients

    def run(self, measure):
        context = multiprocessing.get_context("spawn")
        procs, pipes = [], []
        try:
            for _ in range(self.clients):
                mine, theirs = context.Pipe()
                proc = context.Process(target=grpc_client, args=self.args + (theirs,),
                                       daemon=True)
                proc.start()
                procs.append(proc)
                pipes.append(mine)
            checks = [receive(pipe, 120) for pipe in pipes]
            before = measure()
            for pipe in pipes:
                pipe.send("go")
            done = [receive(pipe, self.args[2] + 60) for pipe in pipes]
            after = measure()
        finally:
            for proc in procs:
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
        rate = sum(count / seconds for count, seconds, _ in done)
        calls = sum(count for count, _, _ in done)
        return (rate, calls, max(seconds for _, seconds, _ in done),
                sum(cpu for _, _, cpu in done), before, after), checks


def metric_values(port, names):
    """{metric name: value summed over its labels} of a Prometheus page."""
    try:
        text = requests.get("http://127.0.0.1:%d/metrics" % port, timeout=10).text
    except requests.RequestException:
        return {}
    found = {}
    for line in text.splitlines():
        match = re.match(r"(\w+)(?:\{[^}]*\})? ([0-9.e+-]+)$", line)
        if match and match.group(1) in names:
            found[match.group(1)] = found.get(match.group(1), 0.0) + float(match.group(2))
    return found


class Measured(object):
    """A server: its process tree's CPU and the (rows, executes) it has counted."""

    COUNTERS = {"modelkiln": ("modelkiln_batch_rows_sum", "modelkiln_batch_rows_count"),
                "triton": ("nv_inference_count", "nv_inference_exec_count"), ASGI: None}

    def __init__(self, kind, server):
        self.kind, self.server = kind, server
        self.pid = server.proc.pid

    def cpu_seconds(self):
        return sum(srv.cpu_ticks(p) for p in srv.process_tree(self.pid)) / srv.CLK_TCK

    def executes(self):
        if self.COUNTERS[self.kind] is None:
            return None, None
        rows, calls = self.COUNTERS[self.kind]
        found = metric_values(self.server.metrics_port, (rows, calls))
        return found.get(rows), found.get(calls)


def snapshot(measured, batched):
    """The machine's, the servers' and this process's children's CPU seconds so far, and
    (a batched model) each server's counts of rows and executes."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"busy": srv.machine_busy_seconds(), "children": used.ru_utime + used.ru_stime,
            "cpu": {kind: m.cpu_seconds() for kind, m in measured.items()},
            "executes": {kind: m.executes() if batched else (None, None)
                         for kind, m in measured.items()}}


def record(samples, key, kind, before, after, calls, seconds, client_cpu=None):
    """The server CPU per request, rows per execute and the background load of one run."""
    ours = {k: after["cpu"][k] - before["cpu"][k] for k in after["cpu"]}
    load = after["children"] - before["children"] if client_cpu is None else client_cpu
    samples["cpu"].setdefault(key + (kind,), []).append(ours[kind] * 1000 / max(1, calls))
    rows0, calls0 = before["executes"][kind]
    rows1, calls1 = after["executes"][kind]
    if None not in (rows0, calls0, rows1, calls1) and calls1 > calls0:
        samples["rows"].setdefault(key + (kind,), []).append((rows1 - rows0) / (calls1 - calls0))
    other = (after["busy"] - before["busy"]) - sum(ours.values()) - load
    samples["background"].append(max(0.0, other) / (seconds * NCPU))


def check_asgi(base, triton, path):
    """The raw ASGI app's outputs equal Triton's for each JSON payload."""
    for name, (body, headers) in PAYLOADS.items():
        if name.startswith("REST JSON"):
            answers = [requests.post(url + path, data=body, headers=headers, timeout=30).json()
                       for url in (base, triton)]
            assert answers[0]["outputs"] == answers[1]["outputs"], (name, answers)


def asgi_server(instances):
    """bench/asgi_triton.py on uvicorn, ``instances`` processes, from MODELKILN_ASGI_VENV."""
    venv = os.environ.get("MODELKILN_ASGI_VENV", str(Path(BENCH_DIR).parent / ".venv-asgi"))
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        raise SystemExit("--asgi needs %s: run make asgi-venv" % python)
    kind = srv.ServerKind(ASGI, python, srv.uvicorn_command(python, "asgi_triton"), "/",
                          BENCH_DIR, 1)
    server = srv.Server(kind, instances, tempfile.mkdtemp(prefix="modelkiln-bench-asgi-"))
    server.start()
    server.wait_ready()
    server.metrics_port = None
    server.url = lambda path: "http://127.0.0.1:%d%s" % (server.port, path)
    return server


def check_answers(bases, path):
    """Each payload answered the same by both servers, and requests of 1 to 8 rows sent at
    once (which a batching server merges) answered right; the rows per execute of the latter
    per server (None: not counted)."""
    for name, (body, headers) in PAYLOADS.items():
        answers = [requests.post(bases[kind] + path, data=body, headers=headers,
                                 timeout=30).content for kind in KINDS]
        if name.startswith("REST JSON"):
            answers = [json.loads(a) for a in answers]
        assert answers[0] == answers[1], (name, answers)
    sizes = [1 + n % 8 for n in range(32)]

    def post(base, number):
        got = requests.post(base + path, json=json_body(sizes[number], number), timeout=30)
        assert got.status_code == 200, (base, number, got.status_code, got.text)
        return {o["name"]: np.array(o["data"], dtype=np.float32).reshape(o["shape"])
                for o in got.json()["outputs"]}

    for kind in KINDS:
        with concurrent.futures.ThreadPoolExecutor(len(sizes)) as pool:
            got = list(pool.map(lambda number: post(bases[kind], number), range(len(sizes))))
        for number, outputs in enumerate(got):
            y = rows_of(sizes[number], number) * np.float32(2) + np.float32(0.5)
            assert np.array_equal(outputs["OUTPUT0"], y), (kind, number, outputs)
            assert np.allclose(outputs["SUM"].ravel(), y.sum(axis=1)), (kind, number, outputs)


def prepare(args, work):
    """The run's repository: a copy of the model's folder with ``--instances`` instances and,
    for a batched model, ``--queue-delay-us``; the copy, its description, whether it batches."""
    repository = Path(work) / "repository"
    folder = repository / args.model
    shutil.copytree(str(REPOSITORY / args.model), str(folder))
    config = folder / "config.pbtxt"
    text = config.read_text().replace("count: 1", "count: %d" % args.instances)
    if args.queue_delay_us is not None:
        if "max_queue_delay_microseconds" not in text:
            raise SystemExit("--queue-delay-us: %s has no dynamic_batching" % args.model)
        text = re.sub(r"max_queue_delay_microseconds: \d+",
                      "max_queue_delay_microseconds: %d" % args.queue_delay_us, text)
    config.write_text(text)
    batching = re.search(r"max_batch_size: (\d+)", text).group(1)
    delay = re.search(r"max_queue_delay_microseconds: (\d+)", text)
    described = ("bench/apps/triton/%s with dynamic_batching (max_batch_size %s, "
                 "max_queue_delay_microseconds %s)" % (args.model, batching, delay.group(1))
                 if delay else "bench/apps/triton/%s without dynamic_batching" % args.model)
    return repository, folder, described, delay is not None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=MODELS, default="scale",
                    help="scale: no dynamic_batching; scale_batched: with it")
    ap.add_argument("--queue-delay-us", type=int,
                    help="scale_batched's max_queue_delay_microseconds (default: its config's)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--concurrency", default="1,8,32", help="wrk connections, REST rows")
    ap.add_argument("--grpc-clients", default="1,8",
                    help="gRPC client processes, each with one call in flight")
    ap.add_argument("--instances", type=int, default=1,
                    help="model instances: modelkiln's workers and the instance group's count")
    ap.add_argument("--asgi", action="store_true",
                    help="also bench/asgi_triton.py (raw ASGI on uvicorn) on the REST JSON rows")
    ap.add_argument("--output", help="also write the table (Markdown) here")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="modelkiln-bench-triton-")
    repository, folder, described, batched = prepare(args, work)
    path = "/v2/models/%s/infer" % args.model
    scripts = {name: wrk.write_script(work, "p%d" % i, body, path, headers)
               for i, (name, (body, headers)) in enumerate(PAYLOADS.items())}
    concurrency = [int(x) for x in args.concurrency.split(",")]
    clients = [int(x) for x in args.grpc_clients.split(",")]
    servers = {}
    results = {}  # (payload, c, kind) -> [req/s]
    samples = {"p50": {}, "cpu": {}, "rows": {}, "background": []}
    started = time.monotonic()
    try:
        servers["triton"] = Tritonserver(repository).start()
        servers["modelkiln"] = Modelkiln(str(folder), env={
            "GUNICORN_WORKERS": str(args.instances), "GUNICORN_THREADS": "1"}).start()
        servers["modelkiln"].wait_ready()
        kinds = list(KINDS)
        if args.asgi:
            servers[ASGI] = asgi_server(args.instances)
            kinds.append(ASGI)
        measured = {kind: Measured(kind, servers[kind]) for kind in kinds}
        bases = {kind: servers[kind].url("") for kind in kinds}
        check_answers(bases, path)
        if args.asgi:
            check_asgi(bases[ASGI], bases["triton"], path)
        checks = {kind: grpc_check(servers[kind].grpc_url, args.model) for kind in KINDS}
        assert checks["modelkiln"] == checks["triton"], checks
        for number in range(args.rounds):
            order = KINDS[number % 2:] + KINDS[:number % 2]
            for name in PAYLOADS:
                # the servers of the row, in an order that turns round from round to round
                ran = kinds if name.startswith("REST JSON") else KINDS
                ran = ran[number % len(ran):] + ran[:number % len(ran)]
                for c in concurrency:
                    for kind in ran:
                        before = snapshot(measured, batched)
                        got = wrk.run(bases[kind], scripts[name], c, int(args.duration))
                        after = snapshot(measured, batched)
                        if got.errors:
                            raise SystemExit("%s %s c=%d: wrk saw errors:\n%s"
                                             % (kind, name, c, got.raw))
                        results.setdefault((name, c, kind), []).append(got.rps)
                        samples["p50"].setdefault((name, c, kind), []).append(got.p50_ms)
                        record(samples, (name, c), kind, before, after, got.requests,
                               got.duration_s)
                        print("[%d/%d] %-19s c=%-2d %-9s %8.0f req/s" % (
                            number + 1, args.rounds, name, c, kind, got.rps), flush=True)
            for c in clients:
                for kind in order:  # (the raw ASGI app has no gRPC)
                    load = GrpcLoad(servers[kind].grpc_url, args.model, c, args.duration)
                    (rate, calls, seconds, cpu, before, after), answers = load.run(
                        lambda: snapshot(measured, batched))
                    assert all(a == checks[kind] for a in answers), (kind, answers)
                    results.setdefault((GRPC, c, kind), []).append(rate)
                    record(samples, (GRPC, c), kind, before, after, calls, seconds, cpu)
                    print("[%d/%d] %-19s c=%-2d %-9s %8.0f req/s" % (
                        number + 1, args.rounds, GRPC, c, kind, rate), flush=True)
    finally:
        for server in servers.values():
            server.stop()
    json_rows = [(name, c) for name in PAYLOADS for c in concurrency
                 if name.startswith("REST JSON")]
    rows = [(name, c) for name in PAYLOADS for c in concurrency if (name, c) not in json_rows]
    rows += [(GRPC, c) for c in clients]
    lines = ["command: `.venv-triton/bin/python bench/triton.py %s` (%.1f min, %d rounds of %g s, "
             "servers interleaved; modelkiln: %d worker(s) of 1 thread; tritonserver 2.51 "
             "(nvidia-pytriton 0.7.0): %d CPU instance(s) of the Python backend; model %s)"
             % (" ".join(argv if argv is not None else sys.argv[1:]),
                (time.monotonic() - started) / 60, args.rounds, args.duration, args.instances,
                args.instances, described), "",
             "| request | conc | server | req/s (median) | min-max | modelkiln / peer "
             "| p50 ms | srv CPU ms/req | rows/execute |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    extra = [("%.2f", samples["p50"]), ("%.3f", samples["cpu"]), ("%.1f", samples["rows"])]
    lines.extend(report.peer_lines(results, json_rows, kinds, extra))
    lines.extend(report.peer_lines(results, rows, KINDS, extra))
    if args.asgi:
        lines += ["", "The raw ASGI app / triton (the ceiling of one Python process per "
                  "instance): " + ", ".join(
                      "%s c=%d %.2fx" % (name, c, statistics.median(results[(name, c, ASGI)])
                                         / statistics.median(results[(name, c, "triton")]))
                      for name, c in json_rows)]
    lines += ["", report.background_text(samples["background"], NCPU)]
    report.print_and_write(lines, args.output)


if __name__ == "__main__":
    main()
