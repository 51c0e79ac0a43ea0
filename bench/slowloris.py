"""Normal clients while slow clients hold connections open: modelkiln vs seldon-core vs MLServer,
in one run, 1 worker each, default settings.

    .venv/bin/python bench/slowloris.py            # writes bench/SLOWLORIS.md
    .venv/bin/python bench/slowloris.py --no-write

For each server: start it, open 200 connections that send a request head one byte per second
and 20 that send a head and then a body one byte per second, then run wrk (8 connections,
small request: Seldon v1 for modelkiln and seldon, V2 JSON for MLServer, which has no v1) for
the duration, and report its req/s, p99 and errors next to a run without the slow clients.
Bounded: every slow connection stops at the end of the row.
"""

import argparse
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import payloads as payloads_mod  # noqa: E402
import servers as srv  # noqa: E402
import wrk  # noqa: E402

HEAD = (b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nX-Padding: " + b"a" * 400 + b"\r\n\r\n")


class SlowClients(object):
    """``heads`` connections trickling a request head, ``bodies`` a body, 1 byte per pace."""

    def __init__(self, port, heads, bodies, pace=1.0):
        self.port, self.pace = port, pace
        self.stop = threading.Event()
        body_head = (b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        self.plans = [HEAD] * heads + [body_head + b" " * 1000] * bodies
        self.closed_by_server = 0
        self.threads = []
        self.lock = threading.Lock()

    def _one(self, data, start_with):
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            with self.lock:
                self.closed_by_server += 1
            return
        try:
            sock.sendall(data[:start_with])
            for index in range(start_with, len(data)):
                if self.stop.wait(self.pace):
                    return
                sock.sendall(data[index:index + 1])
        except OSError:
            with self.lock:
                self.closed_by_server += 1
        finally:
            sock.close()

    def __enter__(self):
        for index, data in enumerate(self.plans):
            # the slow-body clients send their head at once, then trickle the body
            start_with = data.index(b"\r\n\r\n") + 4 if b"Content-Length" in data else 0
            thread = threading.Thread(target=self._one, args=(data, start_with), daemon=True)
            thread.start()
            self.threads.append(thread)
        time.sleep(2.0)  # every connection open and started
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def measure(server, payload, script, duration):
    result = wrk.run("http://127.0.0.1:%d%s" % (server.port, payload.path), script, 8, duration,
                     timeout_s=5)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=7)
    ap.add_argument("--heads", type=int, default=200)
    ap.add_argument("--bodies", type=int, default=20)
    srv.add_peer_arguments(ap, "interpreter for modelkiln")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if not wrk.find_wrk():
        sys.exit("wrk is not on PATH: apt-get install wrk")
    kinds = srv.server_kinds(args.python, args.seldon_venv, args.v2_venv, args.asgi_venv)
    by_name = {p.name: p for p in payloads_mod.all_payloads()}
    plan = [("modelkiln", by_name["small-ndarray"]), ("seldon", by_name["small-ndarray"]),
            ("mlserver", by_name["v2-small-json"])]
    tmp = tempfile.mkdtemp(prefix="modelkiln-slowloris-")
    rows = []
    try:
        for name, payload in plan:
            script = wrk.write_script(tmp, payload.name, payload.body, payload.path,
                                      payload.headers)
            server = srv.Server(kinds[name], 1, tmp).start()
            try:
                server.wait_ready()
                server.wait_grpc()
                measure(server, payload, script, 1)  # warm-up
                quiet = measure(server, payload, script, args.duration)
                with SlowClients(server.port, args.heads, args.bodies) as slow:
                    loaded = measure(server, payload, script, args.duration)
                    held = sum(1 for t in slow.threads if t.is_alive())
                print("%-10s quiet %6.0f req/s p99 %7.2f ms | %d slow: %6.0f req/s (%d answered) "
                      "p99 %7.2f ms, %d errors, %d slow still open at the end"
                      % (name, quiet.rps, quiet.p99_ms, args.heads + args.bodies, loaded.rps,
                         loaded.requests, loaded.p99_ms, loaded.errors, held), flush=True)
                rows.append((name, payload.name, quiet, loaded, held))
            finally:
                server.stop()
    finally:
        srv.stop_all()
    text = report(args, rows)
    print(text)
    if not args.no_write:
        path = os.path.join(srv.BENCH_DIR, "SLOWLORIS.md")
        with open(path, "w") as handle:
            handle.write(text)
        print("wrote", path)
    return 0


def report(args, rows):
    lines = ["# Normal clients under slow clients",
             "",
             "Generated by `.venv/bin/python bench/slowloris.py` on %s UTC; 1 worker each, "
             "default settings; wrk -c 8 -d %ds --timeout 5s on a small request; %d connections "
             "trickling a request head and %d a body, 1 byte/s, during the second run."
             % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), args.duration, args.heads,
                args.bodies),
             "",
             "| server | request | quiet req/s | quiet p99 ms | with slow clients req/s | "
             "p99 ms | errors (wrk) | slow connections still open at the end |",
             "|---|---|---|---|---|---|---|---|"]
    for name, payload, quiet, loaded, held in rows:
        lines.append("| %s | %s | %.0f | %.2f | %s | %s | %d | %d |" % (
            name, payload, quiet.rps, quiet.p99_ms,
            "%.0f" % loaded.rps if loaded.requests else "0 (none answered)",
            "%.2f" % loaded.p99_ms if loaded.requests else "-", loaded.errors, held))
    lines += ["", "A p99 of 5000 ms or more, errors, or no answer at all mean normal clients "
              "were not served (wrk's timeout is 5 s; it reports no latency when nothing was "
              "answered).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
