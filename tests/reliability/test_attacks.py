"""Attacks on a live server with the image's default settings, on 127.0.0.1: each row says what
a hostile or broken client does and what must happen. Bounded loops, short waits.

The slow-client rows use MODELKILN_HEADER_TIMEOUT / MODELKILN_BODY_TIMEOUT of 3 s so that the
deadlines are seen within the test; the defaults (10 s, 60 s) only make the same wait longer.
"""

import gzip
import json
import select
import socket
import threading
import time
from typing import List, NamedTuple, Optional

import pytest

from ..python_runtime import live

pytestmark = pytest.mark.slow

PREDICT = b"/api/v1.0/predictions"
V2_INFER = b"/v2/models/Echo/infer"
SMALL = b'{"data":{"ndarray":[[1,2]]}}'


def request(body: bytes, path: bytes = PREDICT, extra: bytes = b"",
            content_type: bytes = b"application/json") -> bytes:
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n%s"
            % (path, content_type, len(body), extra, body))


def exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data``, half-close, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else 0


class Attack(NamedTuple):
    name: str
    data: bytes
    status: int
    says: str           # in the error's info


def tftensor(dims: List[int], values: str = '"floatVal":[1]') -> bytes:
    shape = ",".join('{"size":"%d"}' % d for d in dims)
    return ('{"data":{"tftensor":{"dtype":"DT_FLOAT","tensorShape":{"dim":[%s]},%s}}}'
            % (shape, values)).encode()


MULTIPART = b"multipart/form-data; boundary=XX"
ATTACKS = [
    # amplification: a few bytes may not become a large array
    Attack("tftensor-lone-value-4TiB", request(tftensor([2 ** 40])), 400,
           "MODELKILN_MAX_ELEMENTS"),
    Attack("tftensor-lone-value-400MB", request(tftensor([100000000])), 413,
           "MODELKILN_MAX_REQUEST_SIZE"),
    Attack("tensor-huge-shape", request(b'{"data":{"tensor":{"shape":[1000000000],'
                                        b'"values":[1]}}}'), 400, "MODELKILN_MAX_ELEMENTS"),
    Attack("v2-huge-shape", request(b'{"inputs":[{"name":"x","datatype":"FP32",'
                                    b'"shape":[1000000000],"data":[1]}]}', V2_INFER), 400,
           "MODELKILN_MAX_ELEMENTS"),
    Attack("v2-empty-huge-shape", request(b'{"inputs":[{"name":"x","datatype":"FP32",'
                                          b'"shape":[0,1099511627776,1099511627776],'
                                          b'"data":[]}]}', V2_INFER), 400, "too large"),
    Attack("gzip-bomb", request(gzip.compress(b" " * (101 << 20), compresslevel=1),
                                extra=b"Content-Encoding: gzip\r\n"), 413,
           "MODELKILN_MAX_REQUEST_SIZE"),
    # framing (the smuggling corpus is in test_http1_attacks.py)
    Attack("body-cut-short", b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
           400, "ended inside a request"),
    Attack("head-cut-short", b"POST /predict HTTP/1.1\r\nContent-Le", 400,
           "ended inside a request"),
    # multipart
    Attack("multipart-part-without-name", request(
        b'--XX\r\nContent-Disposition: form-data\r\n\r\n{"strData":"a"}\r\n--XX--\r\n',
        content_type=MULTIPART), 400, "no name"),
    Attack("multipart-no-closing-boundary", request(
        b'--XX\r\nContent-Disposition: form-data; name="strData"\r\n\r\nabc',
        content_type=MULTIPART), 400, ""),
    Attack("multipart-bad-json-field", request(
        b'--XX\r\nContent-Disposition: form-data; name="data"\r\n\r\n{oops\r\n--XX--\r\n',
        content_type=MULTIPART), 400, "form field 'data'"),
    Attack("multipart-binary-file-as-text", request(
        b'--XX\r\nContent-Disposition: form-data; name="strData"; filename="a"\r\n\r\n'
        b'\xff\xfe\r\n--XX--\r\n', content_type=MULTIPART), 400, "UTF-8"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live.running("echo", "Echo", env={
            "MODELKILN_HEADER_TIMEOUT": "3", "MODELKILN_BODY_TIMEOUT": "3"},
            workdir=str(tmp_path_factory.mktemp("attacks"))) as server:
        yield server


@pytest.fixture
def unharmed(server):
    """After each attack the server still answers at once, and logged no traceback."""
    before = len(server.log())
    yield
    answer = server.post("/predict", data=SMALL, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert server.alive() and len(server.workers()) == 1
    assert "Traceback" not in server.log()[before:], server.log()[before:][-4000:]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack(server, unharmed, attack):
    answer = exchange(server.http_port, attack.data)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(answer) == attack.status, answer[:600]
    error = json.loads(body)
    info = error["error"] if "error" in error else error["status"]["info"]  # V2, or Seldon's
    assert attack.says in info, info


# -- slow clients ------------------------------------------------------------------------------

class Slow(threading.Thread):
    """A connection that sends ``data`` one byte per ``pace`` seconds until told to stop or
    refused; records what the server answered."""

    def __init__(self, port: int, data: bytes, pace: float) -> None:
        super(Slow, self).__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.data, self.pace = data, pace
        self.answer = b""
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            for index in range(len(self.data)):
                if self.stop.wait(self.pace):
                    break
                if select.select([self.sock], [], [], 0)[0]:
                    break  # the server answered (or closed): read it
                self.sock.sendall(self.data[index:index + 1])
        except OSError:
            pass
        try:
            self.sock.settimeout(10)
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.answer += chunk
        except OSError:
            pass
        self.sock.close()


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def test_200_slowloris_and_20_slow_bodies_do_not_stop_normal_clients(server, unharmed):
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    slow = [Slow(server.http_port, head + b"X-Padding: " + b"a" * 200, 0.5)
            for _ in range(200)]
    slow += [Slow(server.http_port, request(SMALL * 100)[:200] + b" " * 4000, 0.5)
             for _ in range(20)]
    for client in slow:
        client.start()
    latencies: List[Optional[float]] = []
    try:
        time.sleep(0.5)
        session = live.requests.Session()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                answer = session.post(server.url("/predict"), data=SMALL, timeout=5,
                                      headers={"Content-Type": "application/json"})
                ok = answer.status_code == 200
            except live.requests.RequestException:
                ok = False
            latencies.append(time.monotonic() - started if ok else None)
        # the slow ones meet their deadlines: 408 each
        for client in slow:
            client.join(15)
    finally:
        for client in slow:
            client.stop.set()
    answered = [t for t in latencies if t is not None]
    assert len(latencies) >= 50, latencies
    assert len(answered) >= 0.99 * len(latencies), latencies
    assert percentile(answered, 0.99) < 1.0, sorted(answered)[-10:]
    refused = [status_of(c.answer) for c in slow]
    assert refused.count(408) == len(slow), refused


def test_a_slow_closer_does_not_slow_the_server(server, unharmed):
    """Clients that read their answer and keep the socket open cost nothing."""
    holders = []
    try:
        started = time.monotonic()
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=10)
            sock.sendall(request(SMALL, extra=b"Connection: close\r\n"))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            holders.append(sock)  # never closed by the client until the end
        assert time.monotonic() - started < 2.0
    finally:
        for sock in holders:
            sock.close()
