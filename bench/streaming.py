"""Streamed answers: modelkiln's V2 generate_stream against MLServer's generate_stream on the
same generator (bench/apps/streamgen: one word per piece, no model cost, so the servers' own
cost per piece is what is measured).

    .venv/bin/python bench/streaming.py                  # 3 rounds of 5 s
    .venv/bin/python bench/streaming.py --output bench/RESULTS-streaming.md

- First piece, c=1: --requests sequential requests of 8 words each, one connection each, from
  a socket client in this process. "from yield" is the time from the generator yielding the
  first piece (its time.time(), carried in the piece) to the client having read that event;
  "from send" from the request's last byte sent to the same moment.
- Pieces per second, c=1 and c=32: wrk posts a text of --words words; every answer carries
  that many pieces, so pieces/s = answers/s x words. The servers run side by side (one worker
  or process each, idle while the other is measured), in an order that alternates by round;
  server CPU per piece is the whole process tree's user + system time over the run.
Before timing, both servers must stream back the words of the same text, one per piece.
Aims (issue 39): first piece within 1 ms of the generator yielding it at c=1; >= 2x MLServer's
pieces/s at c=32.
"""

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import report as rep  # noqa: E402
import servers as srv  # noqa: E402
import wrk  # noqa: E402

APP_DIR = os.path.join(BENCH_DIR, "apps", "streamgen")
SERVERS = ("modelkiln", "mlserver")
PATHS = {"modelkiln": "/v2/models/Gen/generate_stream",
         "mlserver": "/v2/models/gen/generate_stream"}


def text(words):
    return " ".join("w%d" % number for number in range(words))


def body(server, words):
    if server == "modelkiln":
        return json.dumps({"text_input": text(words)})
    return json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1],
                                   "data": [text(words)]}]})


def piece_of(server, event):
    """(word, yielded) of one event's JSON."""
    if server == "modelkiln":
        return event["text_output"], event["yielded"]
    outputs = {output["name"]: output["data"][0] for output in event["outputs"]}
    return outputs["text_output"], outputs["yielded"]


def kinds(python, v2_venv):
    def modelkiln(workers, ports, workdir):
        return [python, "-m", "python_runtime", "Gen", "--workers", "1", "--http-port",
                str(ports[0]), "--metrics-port", str(ports[1])]

    def mlserver(workers, ports, workdir):
        folder = os.path.join(workdir, "mlserver-%d" % ports[0], "gen")
        os.makedirs(folder)
        settings = {"debug": False, "parallel_workers": 0, "host": srv.HOST,
                    "http_port": ports[0], "grpc_port": ports[1], "metrics_port": ports[2]}
        model = {"name": "gen", "implementation": "mlserver_gen.GenRuntime"}
        for name, doc in (("settings.json", settings), ("model-settings.json", model)):
            with open(os.path.join(folder, name), "w") as handle:
                json.dump(doc, handle)
        return [os.path.join(v2_venv, "bin", "mlserver"), "start", folder]

    return {
        "modelkiln": srv.ServerKind("modelkiln", python, modelkiln, "/ready", APP_DIR, 2,
                                    env={"PYTHONPATH": REPO_DIR, "GRPC_WORKERS": "0"}),
        "mlserver": srv.ServerKind("mlserver", os.path.join(v2_venv, "bin", "mlserver"),
                                   mlserver, "/v2/health/ready", APP_DIR, 3,
                                   env={"PYTHONPATH": APP_DIR}),
    }


def stream(server, port, words, first_only=False):
    """One request on a new connection: (seconds from the last byte sent to the first event
    read, seconds from its yield to then, the words of every event)."""
    data = body(server, words).encode()
    head = ("POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            "Accept: text/event-stream\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
            % (PATHS[server], len(data))).encode()
    sock = socket.create_connection((srv.HOST, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.sendall(head + data)
        sent = time.time()
        received, first_at, first_event = b"", None, None
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
            if first_at is None:
                start = received.find(b"data: ")
                end = received.find(b"\n", start) if start >= 0 else -1
                if end >= 0:
                    first_at = time.time()
                    first_event = json.loads(received[start + 6:end])
                    if first_only:
                        break
    finally:
        sock.close()
    words_seen = [piece_of(server, json.loads(line[6:]))[0]
                  for line in received.split(b"\n") if line.startswith(b"data: {")]
    _, yielded = piece_of(server, first_event)
    return first_at - sent, first_at - yielded, words_seen


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(rounds=3, duration=5, words=64, requests=200, python=None, v2_venv=None, log=print):
    python = python or os.path.join(REPO_DIR, ".venv", "bin", "python")
    v2_venv = v2_venv or os.path.join(REPO_DIR, ".venv-v2")
    work = tempfile.mkdtemp(prefix="bench-streaming-")
    servers = {}
    results = {"first": {}, "rate": {}, "rounds": rounds, "duration": duration,
               "words": words, "requests": requests}
    started = time.monotonic()
    try:
        for name, kind in kinds(python, v2_venv).items():
            servers[name] = srv.Server(kind, 1, work).start()
        for name, server in servers.items():
            server.wait_ready()
            got = stream(name, server.port, 5)[2]
            if got != text(5).split():
                raise RuntimeError("%s streamed %r for %r" % (name, got, text(5)))
        for name, server in servers.items():  # first pieces, c=1
            for _ in range(20):
                stream(name, server.port, 8, first_only=True)  # warm-up
            samples = [stream(name, server.port, 8, first_only=True)[:2]
                       for _ in range(requests)]
            results["first"][name] = {
                "send_p50": statistics.median(s[0] for s in samples) * 1e3,
                "send_p99": percentile([s[0] for s in samples], 0.99) * 1e3,
                "yield_p50": statistics.median(s[1] for s in samples) * 1e3,
                "yield_p99": percentile([s[1] for s in samples], 0.99) * 1e3}
            log("first piece %-9s from send p50 %.2f ms, from yield p50 %.3f p99 %.3f ms"
                % (name, results["first"][name]["send_p50"], results["first"][name]["yield_p50"],
                   results["first"][name]["yield_p99"]))
        scripts = {name: wrk.write_script(work, name, body(name, words).encode(), PATHS[name],
                                          {"Content-Type": "application/json"})
                   for name in servers}
        for number in range(rounds):
            order = SERVERS if number % 2 == 0 else SERVERS[::-1]
            for c in (1, 32):
                for name in order:
                    server = servers[name]
                    server.settle()
                    cpu = server.cpu_seconds()
                    result = wrk.run("http://%s:%d" % (srv.HOST, server.port), scripts[name], c,
                                     duration)
                    cpu = server.cpu_seconds() - cpu
                    pieces = result.requests * words
                    sample = {"pieces": pieces / result.duration_s, "errors": result.errors,
                              "p50": result.p50_ms, "p99": result.p99_ms,
                              "cpu_us": cpu * 1e6 / pieces if pieces else None}
                    results["rate"].setdefault((c, name), []).append(sample)
                    log("[%d/%d] c=%-2d %-9s %8.0f pieces/s  answer p50 %6.2f ms  srv %.1f us"
                        "/piece  errors %d" % (number + 1, rounds, c, name, sample["pieces"],
                                              sample["p50"], sample["cpu_us"] or 0,
                                              sample["errors"]))
    finally:
        for server in servers.values():
            server.stop()
    results["minutes"] = (time.monotonic() - started) / 60
    return results


def report(results, command=""):
    words = results["words"]
    out = ["# Streamed answers: modelkiln's generate_stream against MLServer's", "",
           "Generated by `bench/streaming.py` (its docstring says how). command: `%s` "
           "(%.1f min, %d rounds of %d s, servers interleaved); every answer carries %d pieces."
           % (command, results["minutes"], results["rounds"], results["duration"], words), "",
           "First piece, c=1 (%d requests of 8 pieces each, one connection each):"
           % results["requests"], "",
           "| server | from send p50 ms | p99 | from yield p50 ms | p99 |",
           "|---|---:|---:|---:|---:|"]
    for name in SERVERS:
        f = results["first"][name]
        out.append("| %s | %.2f | %.2f | %.3f | %.3f |" % (
            name, f["send_p50"], f["send_p99"], f["yield_p50"], f["yield_p99"]))
    out += ["", "Pieces per second (median over rounds):", "",
            "| conc | server | pieces/s | min-max | answer p50 ms | p99 ms | server CPU us/piece "
            "| errors |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    medians = {}
    for c in (1, 32):
        for name in SERVERS:
            samples = results["rate"][(c, name)]
            rates = [s["pieces"] for s in samples]
            medians[(c, name)] = statistics.median(rates)
            out.append("| %d | %s | %.0f | %.0f-%.0f | %.2f | %.2f | %s | %d |" % (
                c, name, medians[(c, name)], min(rates), max(rates),
                statistics.median(s["p50"] for s in samples),
                statistics.median(s["p99"] for s in samples),
                rep.fmt(statistics.median(s["cpu_us"] for s in samples), "%.1f"),
                sum(s["errors"] for s in samples)))
    first = results["first"]["modelkiln"]["yield_p50"]
    ratio = medians[(32, "modelkiln")] / medians[(32, "mlserver")]
    out += ["",
            "- first piece p50 %.3f ms after the generator yielded it at c=1, aim <= 1 ms: %s"
            % (first, "met" if first <= 1.0 else "**not met**"),
            "- pieces/s at c=32: modelkiln %.2fx MLServer, aim >= 2x: %s"
            % (ratio, "met" if ratio >= 2.0 else "**not met**")]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--words", type=int, default=64, help="pieces per answer in the rate runs")
    ap.add_argument("--requests", type=int, default=200, help="requests of the first-piece runs")
    ap.add_argument("--output", help="write the Markdown report here")
    args = ap.parse_args(argv)
    results = run(args.rounds, args.duration, args.words, args.requests)
    command = ".venv/bin/python bench/streaming.py" + "".join(
        " %s" % a for a in (argv if argv is not None else sys.argv[1:]))
    rep.print_and_write(report(results, command), args.output)


if __name__ == "__main__":
    main()
