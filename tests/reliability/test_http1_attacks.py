"""Attacks on the HTTP/1.1 layer of a live server, one row each (issue 31's table), on
127.0.0.1 with bounded loops: request smuggling (the corpus in
tests/python_runtime/http1_cases.py, with one thread and with four), memory a client can make
the worker hold, CPU it can make the worker spend, answers lost when a worker retires or
stops, requests dropped while the worker is busy, header injection.

The Hypothesis row sends random header bytes and checks that no answer is a 500 and that
the connection never desynchronises.
"""

import json
import os
import signal
import socket
import threading
import time
from typing import List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ..python_runtime import live
from ..python_runtime.http1_cases import BODY26, REFUSED, SERVED, SMUGGLED, names

pytestmark = pytest.mark.slow

PING = b"GET /health/ping HTTP/1.1\r\nHost: a\r\n\r\n"
ANSWER26 = {"data": {"names": ["t:0"], "ndarray": [[1]]}, "meta": {}}


def predict(body: bytes = BODY26, extra: bytes = b"") -> bytes:
    return (b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n%s\r\n%s" % (len(body), extra, body))


def responses(data: bytes) -> List[Tuple[int, dict, bytes]]:
    """Every (status, headers, body) in ``data``, in order."""
    found = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, data[:300]
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        found.append((int(lines[0].split(" ")[1]), headers, rest[:length]))
        data = rest[length:]
    return found


def exchange(port: int, data: bytes, timeout: float = 15.0) -> bytes:
    """Send ``data`` and read until the server closes; a reset is an assertion error."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return live.read_until_closed(sock)


def worker_stat(pid: int) -> Tuple[float, int]:
    """(CPU seconds, resident kB) of process ``pid``."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/%d/status" % pid) as handle:
        rss = [int(line.split()[1]) for line in handle if line.startswith("VmRSS:")][0]
    return (int(fields[11]) + int(fields[12])) / ticks, rss


@pytest.fixture(scope="module", params=["1", "4"], ids=["one-thread", "four-threads"])
def server(request, tmp_path_factory):
    with live.running("echo", "Echo", env={"GUNICORN_THREADS": request.param},
                      workdir=str(tmp_path_factory.mktemp("http1"))) as server:
        yield server


# -- smuggling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", REFUSED, ids=names(REFUSED))
def test_smuggling_corpus_is_refused_and_the_connection_closed(server, case):
    received = exchange(server.http_port, case.data + SMUGGLED)
    answers = responses(received)
    assert len(answers) == 1, received[:1000]  # nothing answered for /SMUGGLED
    status, headers, body = answers[0]
    assert status == case.status and headers["connection"] == "close", received[:600]
    assert case.says.lower() in json.loads(body)["status"]["info"].lower()


@pytest.mark.parametrize("name, data, body", SERVED, ids=[c[0] for c in SERVED])
def test_valid_framings_are_served_and_the_next_request_too(server, name, data, body):
    received = exchange(server.http_port, data + PING + b"GET /health/ping HTTP/1.1\r\n"
                        b"Host: a\r\nConnection: close\r\n\r\n")
    answers = responses(received)
    assert [a[0] for a in answers] == [200, 200, 200], received[:1000]
    assert json.loads(answers[0][2]) == ANSWER26
    assert answers[1][2] == answers[2][2] == b"pong"


ALPHABET = st.sampled_from([bytes([b]) for b in range(256)])


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.lists(ALPHABET, min_size=0, max_size=12).map(b"".join),
       value=st.lists(ALPHABET, min_size=0, max_size=24).map(b"".join))
def test_random_header_bytes_never_give_500_or_a_desynchronised_connection(server, name,
                                                                           value):
    received = exchange(server.http_port, predict(extra=name + b": " + value + b"\r\n") + PING
                        + b"GET /health/ping HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    answers = responses(received)
    statuses = [a[0] for a in answers]
    if statuses == [200, 200, 200]:
        assert json.loads(answers[0][2]) == ANSWER26 and answers[1][2] == b"pong"
    else:
        assert len(answers) == 1 and statuses[0] in (400, 431, 501, 505), received[:600]
        assert answers[0][1]["connection"] == "close"


# -- what a client can make the worker hold or spend -------------------------------------------

def test_pipelining_without_reading_holds_one_answer_not_the_worker_memory(tmp_path):
    """The client pipelines requests for 5 s and reads nothing: the worker stops reading
    while its answer is pending, and closes the connection after MODELKILN_WRITE_TIMEOUT."""
    with live.running("echo", "Echo", env={"MODELKILN_WRITE_TIMEOUT": "3"},
                      workdir=str(tmp_path)) as server:
        worker = server.wait_workers(1)[0]
        _, before = worker_stat(worker)
        burst = predict() * 2000
        sent = 0
        peak = before
        with socket.socket() as sock:
            # A small receive buffer: the answers fill it after a few requests, not after the
            # megabytes loopback would otherwise take (minutes of requests on a busy machine).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.http_port))
            sock.settimeout(0.2)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    sent += sock.send(burst)
                except socket.timeout:
                    peak = max(peak, worker_stat(worker)[1])
                except OSError:  # closed by the write timeout (with unread input: a reset)
                    break
                assert server.post("/predict", json={"data": {"ndarray": [[1]]}}
                                   ).status_code == 200
            # The connection stays open until the worker ends it (closing it here would reset
            # it first, on a machine where the buffers took longer than 3 s to fill).
            live.wait_for(lambda: "MODELKILN_WRITE_TIMEOUT" in server.log(), 60,
                          "the write timeout")
        peak = max(peak, worker_stat(worker)[1])
        assert sent > 2 << 20 and peak - before < 60 * 1024, (before, peak, sent)
        assert server.post("/predict", json={"data": {"ndarray": [[1]]}}).status_code == 200


def test_an_answer_nobody_reads_is_dropped_after_the_write_timeout(tmp_path):
    with live.running("echo", "Echo", env={"MODELKILN_WRITE_TIMEOUT": "2"},
                      workdir=str(tmp_path)) as server:
        rows = json.dumps({"data": {"ndarray": [[1.5] * 1000] * 2000}}).encode()
        with socket.create_connection(("127.0.0.1", server.http_port)) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(predict(rows))
            started = time.monotonic()
            for _ in range(5):  # others are served while the answer waits
                assert server.post("/predict", json={"data": {"ndarray": [[2]]}}).status_code == 200
            live.wait_for(lambda: "MODELKILN_WRITE_TIMEOUT" in server.log(), 15,
                          "the write timeout")
            assert time.monotonic() - started >= 1.5


def test_many_tiny_chunks_cost_the_worker_little_cpu(server):
    worker = server.wait_workers(1)[0]
    before, _ = worker_stat(worker)
    body = b"1\r\n \r\n" * 1400000 + b"1a\r\n" + BODY26 + b"\r\n0\r\n\r\n"  # 8.4 MB
    received = exchange(server.http_port, b"POST /predict HTTP/1.1\r\nHost: a\r\n"
                        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                        b"Connection: close\r\n\r\n" + body, timeout=60)
    after, _ = worker_stat(worker)
    assert responses(received)[0][0] == 200, received[:300]
    assert after - before < 5.0, after - before  # quadratic decoding took 27.7 s


def test_a_multipart_body_of_two_million_parts_is_refused_before_parsing(server):
    worker = server.wait_workers(1)[0]
    before, _ = worker_stat(worker)
    part = b'--B\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n'
    body = part * 1900000 + b"--B--\r\n"
    received = exchange(server.http_port, b"POST /predict HTTP/1.1\r\nHost: a\r\n"
                        b"Content-Type: multipart/form-data; boundary=B\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(body) + body, timeout=60)
    after, _ = worker_stat(worker)
    status, _, answer = responses(received)[0]
    assert status == 413 and "MODELKILN_MAX_FORM_PARTS" in json.loads(answer)["status"]["info"]
    assert after - before < 5.0, after - before


def test_a_request_past_the_memory_budget_gets_503_and_retry_after(tmp_path):
    """Two bodies of 9 MB announced and being sent; a third does not fit in the 20 MB budget."""
    with live.running("echo", "Echo", env={"MODELKILN_MAX_REQUEST_SIZE": "10m",
                                            "MODELKILN_MEMORY_BUDGET": "20m"},
                      workdir=str(tmp_path)) as server:
        head = (b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % (9 << 20))
        holders = [socket.create_connection(("127.0.0.1", server.http_port)) for _ in range(2)]
        try:
            for sock in holders:
                sock.sendall(head + b"{")
            time.sleep(0.5)
            answer = responses(exchange(server.http_port, head + b"{"))[0]
            assert answer[0] == 503 and answer[1]["retry-after"] == "1", answer
            info = json.loads(answer[2])["status"]
            assert info["reason"] == "MICROSERVICE_OVERLOADED"
            assert "MODELKILN_MEMORY_BUDGET" in info["info"]
            # V2 routes answer in V2's shape
            v2 = responses(exchange(server.http_port, head.replace(
                b"/predict", b"/v2/models/Echo/infer") + b"{"))[0]
            assert v2[0] == 503 and "MODELKILN_MEMORY_BUDGET" in json.loads(v2[2])["error"]
        finally:
            for sock in holders:
                sock.close()
        # the budget is given back: a small request goes through
        live.wait_for(lambda: server.post("/predict", json={"data": {"ndarray": [[1]]}})
                      .status_code == 200, 10, "the budget to be free again")


# -- answers lost on retirement, stop and busy workers ----------------------------------------

def keep_alive_client(port: int, count: int, results: List[str]) -> None:
    """``count`` requests over keep-alive connections, reconnecting when the server closes
    one after an answer (as HTTP clients do); records 'ok' or the error of each."""
    sock = None
    for index in range(count):
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(predict())
            received = b""
            while b"\r\n\r\n" not in received or len(responses(received)[0][2]) < int(
                    responses(received)[0][1].get("content-length", 0)):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed without an answer")
                received += chunk
            status, headers, _ = responses(received)[0]
            results.append("ok" if status == 200 else "status %d" % status)
            if headers.get("connection") == "close":
                sock.close()
                sock = None
        except OSError as exc:
            results.append("%s: %s" % (type(exc).__name__, exc))
            if sock is not None:
                sock.close()
            sock = None
    if sock is not None:
        sock.close()


def test_a_retiring_worker_loses_no_keep_alive_request(tmp_path):
    """GUNICORN_MAX_REQUESTS=30 (the docs' advice for leaky models): 4 clients, 200 requests
    each on keep-alive connections; every request is answered (seldon-core loses none)."""
    with live.running("echo", "Echo", env={"GUNICORN_MAX_REQUESTS": "30",
                                            "GUNICORN_WORKERS": "2"},
                      workdir=str(tmp_path)) as server:
        results: List[str] = []
        threads = [threading.Thread(target=keep_alive_client,
                                    args=(server.http_port, 200, results)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert results.count("ok") == 800, [r for r in results if r != "ok"][:10]
        assert server.log().count("Autorestarting worker") >= 10


def test_sigterm_answers_every_request_already_sent(tmp_path):
    """16 keep-alive connections each send a whole request while the worker is busy with a
    slow one; then SIGTERM: all 17 are answered, with Connection: close, and no reset."""
    pid_path = tmp_path / "pids"
    server = live.LiveServer("stall", "Stall", env={
        "PREDICTIVE_UNIT_PARAMETERS": live.parameters(pid_path=str(pid_path), seconds=2.0),
        "GUNICORN_GRACEFUL_TIMEOUT": "20"}, workdir=str(tmp_path))
    server.start()
    try:
        server.wait_ready()
        socks = [socket.create_connection(("127.0.0.1", server.http_port), timeout=30)
                 for _ in range(16)]
        for sock in socks:  # accepted and kept alive
            sock.sendall(predict())
            assert responses(sock.recv(65536))[0][0] == 200
        slow = socket.create_connection(("127.0.0.1", server.http_port), timeout=30)
        slow.sendall(predict(b'{"data":{"ndarray":[[-1]]}}'))
        live.wait_for(lambda: pid_path.exists(), 10, "the slow call to start")
        for sock in socks:
            sock.sendall(predict())
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        for sock in socks + [slow]:
            received = live.read_until_closed(sock)  # a reset raises here
            answers = responses(received)
            assert len(answers) == 1 and answers[0][0] == 200, received[:300]
            assert answers[0][1]["connection"] == "close"
            sock.close()
        assert server.wait_exit(25) == 0
    finally:
        server.stop()


def test_requests_sent_while_the_worker_is_busy_are_not_dropped_by_the_idle_rule(tmp_path):
    """GUNICORN_KEEPALIVE=2 (the default): 64 kept-alive clients send their second request
    while the worker computes for 3 s; every one is answered (no connection reset)."""
    pid_path = tmp_path / "pids"
    with live.running("stall", "Stall", env={
            "PREDICTIVE_UNIT_PARAMETERS": live.parameters(pid_path=str(pid_path), seconds=3.0)},
            workdir=str(tmp_path)) as server:
        socks = [socket.create_connection(("127.0.0.1", server.http_port), timeout=30)
                 for _ in range(64)]
        for sock in socks:
            sock.sendall(predict())
            assert responses(sock.recv(65536))[0][0] == 200
        slow = socket.create_connection(("127.0.0.1", server.http_port), timeout=30)
        slow.sendall(predict(b'{"data":{"ndarray":[[-1]]}}'))
        live.wait_for(lambda: pid_path.exists(), 10, "the slow call to start")
        time.sleep(0.5)
        for sock in socks:
            sock.sendall(predict())
        for sock in socks + [slow]:
            received = b""
            while not received.endswith(b"}}"):
                chunk = sock.recv(65536)
                assert chunk, "closed without an answer"
                received += chunk
            assert responses(received)[0][0] == 200
            sock.close()


# -- header injection --------------------------------------------------------------------------

@pytest.mark.parametrize("requested, allowed", [
    (b"Content-Type, X-Request-Id", "Content-Type, X-Request-Id"),
    (b"Content-Type, x y", "Content-Type"),
    (b"a" * 2000, "Content-Type"),
])
def test_a_preflight_echoes_only_a_well_formed_header_list(server, requested, allowed):
    received = exchange(server.http_port, b"OPTIONS /predict HTTP/1.1\r\nHost: a\r\n"
                        b"Origin: http://example.com\r\nAccess-Control-Request-Method: POST\r\n"
                        b"Access-Control-Request-Headers: " + requested + b"\r\n"
                        b"Connection: close\r\n\r\n")
    status, headers, _ = responses(received)[0]
    assert status == 200 and headers["access-control-allow-headers"] == allowed


def test_a_line_feed_in_a_preflight_header_cannot_add_a_header(server):
    received = exchange(server.http_port, b"OPTIONS /predict HTTP/1.1\r\nHost: a\r\n"
                        b"Access-Control-Request-Headers: X\nSet-Cookie: a=b\r\n\r\n")
    answers = responses(received)
    assert len(answers) == 1 and answers[0][0] == 400 and b"set-cookie" not in received.lower()
