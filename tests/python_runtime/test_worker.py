"""The event-loop worker against a live server, with raw sockets: keep-alive, pipelining,
100-continue, chunked bodies, framing errors, slow senders (the parser's own tables are in
test_http1.py)."""

import json
import signal
import socket
import time

import pytest

from .live import LiveServer, running

BODY = b'{"data":{"ndarray":[[1,2]]}}'
ANSWER = {"data": {"names": ["t:0", "t:1"], "ndarray": [[1, 2]]}, "meta": {}}


# -- live ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running("echo", "Echo", env={"MODELKILN_MAX_REQUEST_SIZE": "1k"},
                 workdir=str(tmp_path_factory.mktemp("worker"))) as server:
        yield server


def connect(server):
    return socket.create_connection(("127.0.0.1", server.http_port), timeout=10)


def post(body=BODY, path="/predict", extra=b""):
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n%s\r\n%s" % (path.encode(), len(body), extra, body))


def read_response(sock, buffered=b""):
    """(status, headers, body, rest) of one response read from ``sock``."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed after %r" % data)
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("body cut short")
        rest += chunk
    return status, headers, rest[:length], rest[length:]


def closed_by_server(sock):
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_many_requests_on_one_connection(server):
    with connect(server) as sock:
        for _ in range(50):
            sock.sendall(post())
            status, headers, body, rest = read_response(sock)
            assert status == 200 and json.loads(body) == ANSWER and rest == b""
            assert "connection" not in headers  # HTTP/1.1: kept open by default


def test_pipelined_requests_are_answered_in_order(server):
    with connect(server) as sock:
        bodies = [b'{"data":{"ndarray":[[%d]]}}' % i for i in range(5)]
        sock.sendall(b"".join(post(b) for b in bodies) + b"GET /health/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        rest = b""
        for i in range(5):
            status, _, body, rest = read_response(sock, rest)
            assert status == 200 and json.loads(body)["data"]["ndarray"] == [[i]]
        status, _, body, rest = read_response(sock, rest)
        assert (status, body) == (200, b"pong")


def test_expect_100_continue(server):
    with connect(server) as sock:
        head = post(extra=b"Expect: 100-continue\r\n")[:-len(BODY)]
        sock.sendall(head)
        status, _, _, rest = read_response(sock)
        assert status == 100
        sock.sendall(BODY)
        status, _, body, _ = read_response(sock, rest)
        assert status == 200 and json.loads(body) == ANSWER


@pytest.mark.parametrize("request_bytes", [
    b"GET /health/ping HTTP/1.0\r\n\r\n",
    b"GET /health/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
])
def test_connection_close_and_http_1_0(server, request_bytes):
    with connect(server) as sock:
        sock.sendall(request_bytes)
        status, headers, body, _ = read_response(sock)
        assert (status, body, headers["connection"]) == (200, b"pong", "close")
        assert closed_by_server(sock)


def test_http_1_0_keep_alive(server):
    with connect(server) as sock:
        for _ in range(2):
            sock.sendall(b"GET /health/ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, body, _ = read_response(sock)
            assert (status, body, headers["connection"]) == (200, b"pong", "keep-alive")


def test_chunked_bodies_and_the_limit(server):
    with connect(server) as sock:
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (BODY[:10], BODY[10:]))
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n")
        status, _, body, _ = read_response(sock)
        assert status == 200 and json.loads(body) == ANSWER
        # Over the 1k limit: refused as soon as the body passes it (the rest is not read),
        # then the connection closes.
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"800\r\n" + b"1" * 1100)
        status, headers, body, _ = read_response(sock)
        assert status == 413 and "1024" in json.loads(body)["status"]["info"], body
        assert headers["connection"] == "close" and closed_by_server(sock)


def test_an_oversized_content_length_is_refused_unread(server):
    with connect(server) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n{")
        status, headers, body, _ = read_response(sock)
        assert status == 413 and "5000000" in json.loads(body)["status"]["info"]
        # The client may still be sending the body it announced: the server reads and drops
        # it (a lingering close) rather than resetting the connection under the client.
        for _ in range(3):
            time.sleep(0.1)
            sock.sendall(b"1" * 100000)
        assert closed_by_server(sock)


def test_a_closing_connection_stops_lingering(server):
    with connect(server) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")
        status, _, _, _ = read_response(sock)
        assert status == 413 and closed_by_server(sock)
    # The worker is free for the next client (the lingering connection closed on our FIN).
    assert server.post("/predict", data=BODY).status_code == 200


@pytest.mark.parametrize("garbage, expected", [
    (b"HELLO\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n", 400),
    (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", 400),
    (b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 400),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431),
])
def test_framing_errors_get_an_answer_and_a_closed_connection(server, garbage, expected):
    with connect(server) as sock:
        sock.sendall(garbage)
        status, headers, body, _ = read_response(sock)
        assert status == expected and headers["connection"] == "close"
        error = json.loads(body)["status"]
        assert error["reason"] == "MICROSERVICE_BAD_DATA" and "bad HTTP request" in error["info"]
        assert closed_by_server(sock)
    assert server.post("/predict", data=BODY).status_code == 200


def test_a_slow_sender_does_not_hold_the_worker(server):
    """One worker, one thread: a client trickling its request must not stop others."""
    with connect(server) as slow:
        request = post()
        slow.sendall(request[:20])
        started = time.monotonic()
        for _ in range(5):
            answer = server.post("/predict", data=BODY,
                                 headers={"Content-Type": "application/json"})
            assert answer.status_code == 200 and answer.json() == ANSWER
        assert time.monotonic() - started < 5
        slow.sendall(request[20:])
        status, _, body, _ = read_response(slow)
        assert status == 200 and json.loads(body) == ANSWER


def test_sigterm_with_idle_keep_alive_connections_exits_cleanly(tmp_path):
    server = LiveServer("echo", "Echo", workdir=str(tmp_path))
    server.start()
    try:
        server.wait_ready()
        socks = [connect(server) for _ in range(3)]
        for sock in socks:
            sock.sendall(post())
            assert read_response(sock)[0] == 200
        server.proc.send_signal(signal.SIGTERM)
        assert server.wait_exit(15) == 0
        for sock in socks:
            assert closed_by_server(sock)
            sock.close()
    finally:
        server.stop()


# -- read deadlines ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    with running("echo", "Echo", env={"MODELKILN_HEADER_TIMEOUT": "1",
                                      "MODELKILN_BODY_TIMEOUT": "2"},
                 workdir=str(tmp_path_factory.mktemp("deadlines"))) as server:
        yield server


def timed_out(sock, setting):
    """The 408 a connection gets when its deadline passes, then the connection closes."""
    sock.settimeout(10)
    status, headers, body, _ = read_response(sock)
    error = json.loads(body)["status"]
    assert status == 408 and headers["connection"] == "close", (status, body)
    assert setting in error["info"] and "did not arrive within" in error["info"], error
    assert closed_by_server(sock)


@pytest.mark.parametrize("partial, setting, low, high", [
    (b"POST /predict HTTP/1.1\r\nHost: x\r\n", "MODELKILN_HEADER_TIMEOUT", 0.9, 2.5),
    (post()[:-10], "MODELKILN_BODY_TIMEOUT", 1.9, 3.5),
    (b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
     "MODELKILN_BODY_TIMEOUT", 1.9, 3.5),
], ids=["headers", "content-length-body", "chunked-body"])
def test_an_incomplete_request_gets_408_at_its_deadline(strict_server, partial, setting, low,
                                                         high):
    with connect(strict_server) as sock:
        started = time.monotonic()
        sock.sendall(partial)
        timed_out(sock, setting)
        assert low <= time.monotonic() - started <= high


def test_trickling_headers_do_not_extend_the_deadline(strict_server):
    """Deadlines count from a request's first byte, not from the last one received."""
    request = post()
    with connect(strict_server) as sock:
        started = time.monotonic()
        for index in range(8):
            sock.sendall(request[index:index + 1])
            time.sleep(0.25)
        timed_out(sock, "MODELKILN_HEADER_TIMEOUT")
        assert time.monotonic() - started < 3.5


def test_slow_clients_do_not_hold_back_others(strict_server):
    """40 connections sending headers slowly and 10 sending a body slowly: normal requests
    are still answered at once, and the slow ones end with 408."""
    slow = []
    try:
        for index in range(50):
            sock = connect(strict_server)
            sock.sendall(post()[:-5] if index % 5 == 0 else b"POST /predict HTTP/1.1\r\n")
            slow.append(sock)
        for _ in range(20):
            started = time.monotonic()
            answer = strict_server.post("/predict", data=BODY,
                                        headers={"Content-Type": "application/json"})
            assert answer.status_code == 200 and answer.json() == ANSWER
            assert time.monotonic() - started < 1.0
        for sock in slow:
            sock.settimeout(10)
            status, _, _, _ = read_response(sock)
            assert status == 408
    finally:
        for sock in slow:
            sock.close()


def test_a_complete_request_after_a_slow_start_is_served(strict_server):
    with connect(strict_server) as sock:
        request = post()
        sock.sendall(request[:10])
        time.sleep(0.5)
        sock.sendall(request[10:])
        status, _, body, _ = read_response(sock)
        assert status == 200 and json.loads(body) == ANSWER
        # the next request on the connection has a deadline of its own
        time.sleep(1.2)
        sock.sendall(request)
        status, _, body, _ = read_response(sock)
        assert status == 200 and json.loads(body) == ANSWER
