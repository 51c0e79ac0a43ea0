"""The GPU smoke benchmark: one script to run on a machine with a CUDA device and PyTorch, with no
network, in under five minutes.

    python bench/gpu.py                    # on the GPU (CUDA_VISIBLE_DEVICES chooses which)
    python bench/gpu.py --device cpu       # the same steps on the CPU (what CI runs)
    python bench/gpu.py --python /path/to/venv/bin/python --duration 5

It serves bench/apps/torch-mlp (a small PyTorch MLP whose cost is mostly per call) through
``python -m python_runtime`` (what ``modelkiln serve`` runs) with 1 and then 2 workers, each
worker with one GPU of its own (MODELKILN_GPUS_PER_WORKER=1; on the CPU the same setting with
no GPU visible), without and with adaptive batching (MODELKILN_MAX_BATCH_SIZE=32, 2 ms). For
each server it first checks every worker: the device modelkiln gave it (V2 model metadata) and
the device the model's tensors are on (the model's Seldon metadata), and that they agree;
then it measures V2 REST throughput with wrk at concurrency 1, 8 and 32. It prints one
Markdown table (``--output`` writes it to a file too) and exits 1 when a check fails.

Needs: wrk on PATH; PyTorch (with CUDA for ``--device cuda``) and this checkout's runtime
dependencies in ``--python`` (default: this interpreter, else .venv-frameworks).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import batching  # noqa: E402
import servers as srv  # noqa: E402
import wrk  # noqa: E402

MODEL = batching.MODEL
CONCURRENCY = (1, 8, 32)


def default_python():
    """This interpreter when it has torch, else the frameworks virtualenv's."""
    try:
        import torch  # noqa: F401

        return sys.executable
    except ImportError:
        return os.path.join(REPO_DIR, ".venv-frameworks", "bin", "python")


def torch_facts(python, device):
    """(torch version, CUDA build, devices CUDA sees) from ``python``; fails early and clearly
    when the device asked for is not there."""
    code = ("import json, torch; print(json.dumps([torch.__version__, torch.version.cuda, "
            "torch.cuda.device_count() if torch.cuda.is_available() else 0]))")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit("PyTorch does not import in %s:\n%s" % (python, done.stderr[-2000:]))
    version, cuda, count = json.loads(done.stdout)
    if device == "cuda" and not count:
        raise SystemExit("--device cuda, but PyTorch %s (CUDA build %s) sees no GPU here: check "
                         "the driver (python -m python_runtime.gpu), or run --device cpu"
                         % (version, cuda))
    return version, cuda, count


def kind(python, device, workers, batched, metrics_ports):
    """The server: ``metrics_ports`` gets its metrics port by REST port once it starts."""
    name = "w%d-%s" % (workers, "batched" if batched else "unbatched")

    def command(count, ports, workdir):
        metrics_ports[ports[0]] = ports[1]
        return [python, "-m", "python_runtime", MODEL, "--service-type", "MODEL",
                "--workers", str(workers), "--http-port", str(ports[0]),
                "--metrics-port", str(ports[1])]

    env = {"PYTHONPATH": REPO_DIR, "GRPC_WORKERS": "0", "BENCH_DEVICE": device,
           "BENCH_TORCH_THREADS": "1", "MODELKILN_GPUS_PER_WORKER": "1",
           "MODELKILN_MAX_BATCH_SIZE": "32" if batched else "1",
           "MODELKILN_MAX_BATCH_TIME": "0.002"}
    return srv.ServerKind(name, python, command, "/ready", batching.MODEL_DIR, 2,
                          protocols=(srv.V2,), env=env)


def worker_devices(server, workers, tries=400):
    """{worker pid: (modelkiln's device, the model's torch device)} from new connections."""
    found = {}
    for _ in range(tries):
        status, raw, _ = srv.http_request(server.port, "GET", "/v2/models/%s" % MODEL)
        if status != 200:
            raise RuntimeError("V2 metadata: %d %s" % (status, raw[:300]))
        params = json.loads(raw).get("parameters") or {}
        status, raw, _ = srv.http_request(server.port, "GET", "/api/v1.0/metadata")
        custom = json.loads(raw).get("custom") or {} if status == 200 else {}
        if custom.get("pid") == str(params.get("worker_pid")):   # both from one worker
            found[params["worker_pid"]] = (params.get("device"), custom.get("torch_device"))
        if len(found) == workers:
            return found
    raise RuntimeError("only %d of %d workers answered: %s" % (len(found), workers, found))


def check_devices(found, device, gpus):
    """Problems with what the workers said (empty: all is well)."""
    problems = []
    slices = set()
    for pid, (given, used) in sorted(found.items()):
        if device == "cuda":
            if not (given or "").startswith("cuda: CUDA_VISIBLE_DEVICES="):
                problems.append("worker %d was given %r, not a GPU" % (pid, given))
            if not (used or "").startswith("cuda"):
                problems.append("worker %d's model is on %r, not the GPU" % (pid, used))
            slices.add(given.split("=")[1].split(" ")[0] if given else None)
        elif used != "cpu":
            problems.append("worker %d's model is on %r, not the CPU" % (pid, used))
    if device == "cuda" and gpus >= len(found) and len(slices) != len(found):
        problems.append("two workers share a GPU although %d are visible: %s" % (gpus, found))
    return problems


def measure(server, script, duration):
    rows = []
    for c in CONCURRENCY:
        before = batching.batch_rows(server.metrics_port)
        res = wrk.run("http://%s:%d" % (srv.HOST, server.port), script, c, duration)
        if res.socket_errors or res.status_errors:
            raise RuntimeError("%s c=%d: wrk saw errors:\n%s" % (server.name, c, res.raw))
        after = batching.batch_rows(server.metrics_port)
        calls = after[1] - before[1]
        rows.append({"c": c, "rps": res.rps, "p50": res.p50_ms, "p99": res.p99_ms,
                     "rows": (after[0] - before[0]) / calls if calls else None})
    return rows


def table(device, facts, results, minutes, command):
    version, cuda, count = facts
    lines = ["# GPU smoke run (`%s`)" % command, "",
             "Device %s; PyTorch %s (CUDA build %s), %d GPU(s) visible to PyTorch; %.1f min." % (
                 device, version, cuda, count, minutes), "",
             "| workers | batching | devices (worker: given / model) | c | req/s | p50 ms | "
             "p99 ms | rows/call |",
             "|---|---|---|---|---|---|---|---|"]
    for (workers, batched), (found, rows) in results:
        devices = "; ".join("%s / %s" % (given, used) for given, used in found.values())
        for row in rows:
            lines.append("| %d | %s | %s | %d | %.0f | %.2f | %.2f | %s |" % (
                workers, "on" if batched else "off", devices, row["c"], row["rps"], row["p50"],
                row["p99"], "%.1f" % row["rows"] if row["rows"] else "-"))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--python", default=None,
                        help="the Python with PyTorch and the runtime's dependencies")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--output", help="also write the table to this file")
    ns = parser.parse_args(argv)
    if not wrk.find_wrk():
        raise SystemExit("wrk is not on PATH (apt-get install wrk)")
    python = ns.python or default_python()
    facts = torch_facts(python, ns.device)
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="modelkiln-bench-gpu-")
    script = wrk.write_script(work, "row", batching.body(batching.rows(1)[0]), batching.INFER,
                              {"Content-Type": "application/json"})
    results, problems, metrics_ports = [], [], {}
    try:
        for workers in (1, 2):
            for batched in (False, True):
                server = srv.Server(kind(python, ns.device, workers, batched, metrics_ports),
                                    workers, work)
                server.start()
                server.wait_ready(timeout=180)
                server.metrics_port = metrics_ports[server.port]
                found = worker_devices(server, workers)
                problems += ["%s: %s" % (server.name, p)
                             for p in check_devices(found, ns.device, facts[2])]
                wrk.run("http://%s:%d" % (srv.HOST, server.port), script, 8, 2)  # warm up
                rows = measure(server, script, ns.duration)
                results.append(((workers, batched), (found, rows)))
                print("%s: %s" % (server.name, ", ".join("c=%d %.0f req/s" % (r["c"], r["rps"])
                                                        for r in rows)), flush=True)
                srv.stop_all()
    finally:
        srv.stop_all()
    command = " ".join(["python bench/gpu.py"] + list(sys.argv[1:] if argv is None else argv))
    text = table(ns.device, facts, results, (time.monotonic() - started) / 60, command)
    if problems:
        text += "\nChecks failed:\n" + "".join("- %s\n" % p for p in problems)
    sys.stdout.write(text)
    if ns.output:
        with open(ns.output, "w") as handle:
            handle.write(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
