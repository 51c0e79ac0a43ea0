"""A frame-level fuzzer against a live gRPC port: many connections at once, each sending a
seeded random mix of valid calls and valid, invalid and truncated frames, its bytes split at
random points. While it runs a grpcio probe on another connection must keep being answered;
afterwards the worker is the same process, its memory stayed within the budget (plus the
interpreter's own), and the log holds no traceback.

Seeded (``MODELKILN_FUZZ_SEED`` to replay a run), bounded to FUZZ_SECONDS of sending.
"""

import os
import random
import socket
import struct
import threading
import time
import zlib
from typing import List

import hpack
import pytest

from ..python_runtime import live
from .h2client import PREFACE, REQUEST, grpc_message, predict_request, probe, rss

# a generator bug must fail the test, not pass as a warning
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

SEED = int(os.environ.get("MODELKILN_FUZZ_SEED", "20261206"))
FUZZ_SECONDS = 20.0  # per thread setting: the module stays under a minute
CONNECTIONS = 12
BUDGET = 32 << 20
SLACK = 48 << 20  # the interpreter's own growth (allocator arenas, decoded protos)


def frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return struct.pack(">IBI", len(payload) << 8 | kind, flags, stream_id) + payload


class Generator(object):
    """One connection's random byte stream: a request at a time, or a random frame."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.encoder = hpack.Encoder()
        self.next_id = 1

    def fields(self):
        rng = self.rng
        fields = list(REQUEST)
        if rng.random() < 0.3:
            fields.append(("grpc-encoding", rng.choice(["gzip", "deflate", "identity", "br"])))
        if rng.random() < 0.2:  # something RFC 9113 8.2 forbids, or odd metadata
            fields.append(rng.choice([("Upper", "x"), ("connection", "close"), ("te", "gzip"),
                                      (":path", "/x"), ("x-meta", "v" * rng.randint(0, 5000)),
                                      ("content-length", str(rng.randint(0, 100)))]))
        if rng.random() < 0.1:
            rng.shuffle(fields)
        return fields

    def message(self) -> bytes:
        rng = self.rng
        choice = rng.random()
        if choice < 0.5:
            return grpc_message(predict_request([rng.random() for _ in range(rng.randint(1, 8))]))
        if choice < 0.6:
            return grpc_message(zlib.compress(b"\x00" * rng.randint(0, 1 << 22)), 1)
        if choice < 0.8:
            return grpc_message(os.urandom(rng.randint(0, 3000)), rng.randint(0, 1))
        # a length prefix that lies
        return struct.pack(">BI", 0, rng.choice([0, 7, 1 << 20, 1 << 31])) + os.urandom(
            rng.randint(0, 200))

    def request(self) -> bytes:
        rng = self.rng
        stream_id = self.next_id
        self.next_id += 2
        block = self.encoder.encode(self.fields())
        out = bytearray()
        if rng.random() < 0.2 and len(block) > 2:  # split over CONTINUATIONs
            cut = rng.randint(1, len(block) - 1)
            out += frame(1, 0, stream_id, block[:cut])
            out += frame(9, 0x4, stream_id, block[cut:])
        else:
            out += frame(1, 0x4, stream_id, block)
        body = b"".join(self.message() for _ in range(rng.choice([0, 1, 1, 1, 2])))
        for offset in range(0, len(body), 16384):
            out += frame(0, 0, stream_id, body[offset:offset + 16384])
        if rng.random() < 0.1:
            out += frame(3, 0, stream_id, struct.pack(">I", 8))  # reset it
        elif rng.random() < 0.95:
            out += frame(0, 0x1, stream_id, b"")
        return bytes(out)

    def noise(self) -> bytes:
        rng = self.rng
        kind = rng.randint(0, 12)
        stream_id = rng.choice([0, 1, max(1, self.next_id - 2), self.next_id, rng.getrandbits(31)])
        payload = rng.choice([
            b"", os.urandom(rng.randint(1, 40)), struct.pack(">I", rng.getrandbits(32)),
            struct.pack(">HI", rng.randint(0, 8), rng.getrandbits(32)), os.urandom(8),
            self.encoder.encode(self.fields())])
        if rng.random() < 0.02:  # a frame header that promises more than it sends
            return struct.pack(">IBI", rng.randint(1, (1 << 24) - 1) << 8 | kind, 0, stream_id)
        return frame(kind, rng.getrandbits(8), stream_id, payload)

    def chunk(self) -> bytes:
        return self.request() if self.rng.random() < 0.6 else self.noise()


def fuzz_connection(port: int, seed: int, deadline: float, sent: List[int]) -> None:
    """Connections one after the other until ``deadline``, each with a random life."""
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        generator = Generator(rng)
        stream = bytearray(PREFACE if rng.random() < 0.97 else os.urandom(24))
        stream += frame(4, 0, 0, b"")
        for _ in range(rng.randint(1, 40)):
            stream += generator.chunk()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.setblocking(False)
                pos = 0
                while pos < len(stream) and time.monotonic() < deadline:
                    cut = min(len(stream), pos + rng.choice([1, 9, 100, 4096, 65536]))
                    try:
                        pos += sock.send(stream[pos:cut])
                    except BlockingIOError:
                        time.sleep(0.001)
                    except OSError:
                        break  # closed by the server (GOAWAY)
                    try:
                        while sock.recv(1 << 16):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                    if rng.random() < 0.05:
                        time.sleep(rng.random() * 0.05)
                sent[0] += pos
        except OSError:
            pass


@pytest.mark.parametrize("threads", [1, 4])
def test_frame_fuzzer_many_connections(tmp_path, threads):
    """threads=4: calls run on the GRPC_THREADS pool (queued, cancelled, answered later)."""
    server = live.LiveServer("fuzzecho", "FuzzEcho", env={
        "MODELKILN_MEMORY_BUDGET": str(BUDGET), "MODELKILN_HEADER_TIMEOUT": "2",
        "GUNICORN_THREADS": str(threads)}, workdir=str(tmp_path))
    server.start()
    try:
        server.wait_ready()
        (worker,) = server.wait_workers(1)
        probe(server.grpc_port)
        baseline = rss(worker)
        peak = [baseline]
        latencies = []  # type: List[float]
        deadline = time.monotonic() + FUZZ_SECONDS
        sent = [0]
        fuzzers = [threading.Thread(target=fuzz_connection, daemon=True,
                                    args=(server.grpc_port, SEED + index, deadline, sent))
                   for index in range(CONNECTIONS)]
        for thread in fuzzers:
            thread.start()
        while time.monotonic() < deadline:
            try:
                latencies.append(probe(server.grpc_port, timeout=10))
            except Exception as exc:  # noqa: BLE001 (the log says why)
                raise AssertionError("the probe failed: %r\n%s" % (exc, server.log_tail()))
            peak[0] = max(peak[0], rss(worker))
            time.sleep(0.2)
        for thread in fuzzers:
            thread.join(15)
        assert server.workers() == [worker], "the worker was replaced"
        assert len(latencies) > 20 and max(latencies) < 5.0, max(latencies)
        assert peak[0] - baseline < BUDGET + SLACK, (peak[0] - baseline) >> 20
        assert sent[0] > 1 << 20, sent[0]
        probe(server.grpc_port)
        log = server.log()
        assert "Traceback" not in log and "error serving" not in log, server.log_tail()
    finally:
        server.stop()
