"""Microseconds the HTTP/1.1 reader (python_runtime/transport/http1.py, on llhttp) spends on
one small request, as wrk sends it in bench/run.py's small-ndarray row: the parser's share of
a request's server CPU is this figure divided by the row's `srv CPU ms/req`.

    .venv/bin/python bench/parser.py            # both modes: llhttp frames bodies / own framing
    .venv/bin/python bench/parser.py --rounds 9

A round feeds one keep-alive connection's worth of requests (each as one read, as they arrive
from wrk) to a fresh RequestReader and takes every parsed request out; the figure is the median
over rounds of the best of 5 passes.
"""

import argparse
import json
import os
import statistics
import sys
import time

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_DIR)

from python_runtime.transport import http1  # noqa: E402

BODY = json.dumps({"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}).encode()
REQUEST = (b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY


def per_request(own_bodies, requests=4000):
    reader = http1.RequestReader(10 * 1024 * 1024, lambda n: True, own_bodies=own_bodies)
    start = time.perf_counter()
    for _ in range(requests):
        reader.feed(REQUEST)
        request = reader.take()
    elapsed = time.perf_counter() - start
    assert reader.error is None and request.body == BODY, (reader.error, request.body)
    return elapsed / requests * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    modes = [("llhttp frames bodies", False), ("own body framing (lenient llhttp)", True)]
    print("request: %d bytes (small-ndarray); default mode here: %s"
          % (len(REQUEST), "own framing" if http1.OWN_BODIES else "llhttp frames bodies"))
    for name, own in modes:
        rounds = [min(per_request(own) for _ in range(5)) for _ in range(args.rounds)]
        print("%-36s %6.2f µs per request (median of %d rounds)"
              % (name, statistics.median(rounds), args.rounds))


if __name__ == "__main__":
    main()
