"""A Triton Python-backend model served by modelkiln against the same folder in the tritonserver
that nvidia-pytriton bundles (2.51, CPU), same run, servers interleaved: V2 REST JSON with one
row and with 1000x4, the binary tensor extension with 1000x4 (wrk on loopback), and gRPC
ModelInfer with one row (a Python client, one call at a time, the same for both).

    .venv-triton/bin/python bench/triton.py                 # 5 rounds of 3 s, c=1 and 8
    .venv-triton/bin/python bench/triton.py --output bench/RESULTS-triton.md

The model is bench/apps/triton/scale (no dynamic_batching: every request is its own execute).
Servers (``make triton-venv``): modelkiln ``python -m python_runtime bench/apps/triton/scale``
from .venv (``--instances`` workers of one thread, default 1); tritonserver on a copy of the
repository bench/apps/triton whose instance group has ``--instances`` CPU instances (its
default HTTP and gRPC threads). Both must give the same answer to each
payload before timing. Reports the median over rounds and the ratio modelkiln / triton.
"""

import argparse
import json
import os
import shutil
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
import wrk  # noqa: E402
from tests.compat_triton.servers import Modelkiln, Tritonserver  # noqa: E402

REPOSITORY = Path(BENCH_DIR) / "apps" / "triton"
MODEL = "scale"
KINDS = ["modelkiln", "triton"]
PATH = "/v2/models/%s/infer" % MODEL


def json_body(rows):
    data = (np.arange(rows * 4, dtype=np.float32) % 7).reshape(rows, 4)
    return {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [rows, 4],
                        "data": data.ravel().tolist()}]}


def binary_body(rows):
    data = (np.arange(rows * 4, dtype=np.float32) % 7).reshape(rows, 4)
    raw = data.astype("<f4").tobytes()
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


def grpc_call(target):
    """A function sending one ModelInfer of one row (raw contents), the request serialized
    once and the answer not parsed, as wrk does not parse bodies."""
    import grpc
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name=MODEL)
    tensor = request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 4])
    del tensor
    request.raw_input_contents.append(np.arange(4, dtype="<f4").tobytes())
    channel = grpc.insecure_channel(target)
    call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
    body = request.SerializeToString()
    answer = service_pb2.ModelInferResponse.FromString(call(body, timeout=10))
    check = [(o.name, o.datatype, list(o.shape)) for o in answer.outputs], list(
        answer.raw_output_contents)
    return (lambda: call(body, timeout=10)), check, channel


def grpc_rate(call, duration):
    count = 0
    started = time.perf_counter()
    end = started + duration
    while time.perf_counter() < end:
        if call():
            count += 1
    return count / (time.perf_counter() - started)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--concurrency", default="1,8")
    ap.add_argument("--instances", type=int, default=1,
                    help="model instances: modelkiln's workers and the instance group's count")
    ap.add_argument("--output", help="also write the table (Markdown) here")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="modelkiln-bench-triton-")
    repository = Path(work) / "repository"
    shutil.copytree(str(REPOSITORY), str(repository))
    config = repository / MODEL / "config.pbtxt"
    config.write_text(config.read_text().replace("count: 1", "count: %d" % args.instances))
    scripts = {name: wrk.write_script(work, "p%d" % i, body, PATH, headers)
               for i, (name, (body, headers)) in enumerate(PAYLOADS.items())}
    servers = {}
    results = {}  # (payload, c, kind) -> [req/s]
    started = time.monotonic()
    try:
        servers["triton"] = Tritonserver(repository).start()
        servers["modelkiln"] = Modelkiln(str(REPOSITORY / MODEL), env={
            "GUNICORN_WORKERS": str(args.instances), "GUNICORN_THREADS": "1"}).start()
        servers["modelkiln"].wait_ready()
        bases = {kind: servers[kind].url("") for kind in KINDS}
        for name, (body, headers) in PAYLOADS.items():
            answers = [requests.post(bases[kind] + PATH, data=body, headers=headers,
                                     timeout=30).content for kind in KINDS]
            if name.startswith("REST JSON"):
                answers = [json.loads(a) for a in answers]
            assert answers[0] == answers[1], (name, answers)
        calls = {}
        for kind in KINDS:
            call, check, _channel = grpc_call(servers[kind].grpc_url)
            calls[kind] = (call, check)
        assert calls["modelkiln"][1] == calls["triton"][1], (calls["modelkiln"][1],
                                                             calls["triton"][1])
        concurrency = [int(x) for x in args.concurrency.split(",")]
        for number in range(args.rounds):
            order = KINDS[number % 2:] + KINDS[:number % 2]
            for name in PAYLOADS:
                for c in concurrency:
                    for kind in order:
                        got = wrk.run(bases[kind], scripts[name], c, int(args.duration))
                        if got.errors:
                            raise SystemExit("%s: wrk saw errors %s" % (kind, got))
                        results.setdefault((name, c, kind), []).append(got.rps)
                        print("[%d/%d] %-18s c=%-2d %-9s %8.0f req/s" % (
                            number + 1, args.rounds, name, c, kind, got.rps), flush=True)
            for kind in order:
                rate = grpc_rate(calls[kind][0], args.duration)
                results.setdefault(("gRPC ModelInfer 1x4", 1, kind), []).append(rate)
                print("[%d/%d] %-18s c=1  %-9s %8.0f req/s" % (
                    number + 1, args.rounds, "gRPC ModelInfer 1x4", kind, rate), flush=True)
    finally:
        for server in servers.values():
            server.stop()
    rows = [(name, c) for name in PAYLOADS for c in concurrency] + [("gRPC ModelInfer 1x4", 1)]
    lines = ["command: `.venv-triton/bin/python bench/triton.py %s` (%.1f min, %d rounds of %g s, "
             "servers interleaved; modelkiln: %d worker(s) of 1 thread; tritonserver 2.51 "
             "(nvidia-pytriton 0.7.0): %d CPU instance(s) of the Python backend; model "
             "bench/apps/triton/scale without dynamic_batching)"
             % (" ".join(argv if argv is not None else sys.argv[1:]),
                (time.monotonic() - started) / 60, args.rounds, args.duration, args.instances,
                args.instances), "",
             "| request | conc | server | req/s (median) | min-max | modelkiln / triton |",
             "|---|---:|---|---:|---:|---:|"]
    lines.extend(report.peer_lines(results, rows, KINDS))
    report.print_and_write(lines, args.output)

if __name__ == "__main__":
    main()
