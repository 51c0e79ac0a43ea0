"""The strict HTTP/1.1 reader (python_runtime.transport.http1) as tables: what it refuses, with
which status, and what it serves, fed whole and byte by byte."""

import random

import pytest

from python_runtime.transport import http1
from python_runtime.transport.http1 import RequestReader

from .http1_cases import REFUSED, SERVED, SMUGGLED, names


@pytest.fixture(params=[False, True], ids=["llhttp-bodies", "own-bodies"], autouse=True)
def own_bodies(request, monkeypatch):
    """Every test runs with llhttp framing bodies (llhttp 9) and with this module framing them
    (what llhttp 6, on the py36 pins, gets)."""
    if http1.OWN_BODIES and not request.param:
        pytest.skip("this llhttp is lenient: bodies are always framed by http1 itself")
    monkeypatch.setattr(http1, "OWN_BODIES", request.param)
    return request.param


def reader(limit=1 << 20, fits=lambda size: True):
    return RequestReader(limit, fits, own_bodies=http1.OWN_BODIES)


def feed_in_pieces(read, data, sizes):
    start = 0
    while start < len(data):
        size = next(sizes)
        read.feed(data[start:start + size])
        start += size


@pytest.mark.parametrize("case", REFUSED, ids=names(REFUSED))
def test_refused_and_nothing_smuggled(case):
    read = reader()
    read.feed(case.data + SMUGGLED)
    assert read.error is not None and read.stopped
    assert int(read.error.status.split()[0]) == case.status, str(read.error)
    assert case.says.lower() in str(read.error).lower()
    assert not read.ready


@pytest.mark.parametrize("name, data, body", SERVED, ids=[c[0] for c in SERVED])
@pytest.mark.parametrize("split", ["whole", "bytes", "random"])
def test_served(name, data, body, split):
    read = reader()
    everything = data + SMUGGLED
    if split == "whole":
        read.feed(everything)
    elif split == "bytes":
        feed_in_pieces(read, everything, iter(lambda: 1, None))
    else:
        rng = random.Random(name)
        feed_in_pieces(read, everything, iter(lambda: rng.randint(1, 40), None))
    first, second = read.take(), read.take()
    assert (first.method, first.target, first.body) == ("POST", "/predict", body)
    assert (second.method, second.target, second.body) == ("GET", "/SMUGGLED", b"")
    assert not read.ready and not read.in_request and read.retained == 0


def test_requests_before_a_framing_error_are_kept_to_be_answered_first():
    read = reader()
    read.feed(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"
              b"GARBAGE\r\n\r\n" + SMUGGLED)
    assert [r.target for r in read.ready] == ["/a", "/b"]
    assert read.error.status.startswith("400") and read.stopped


def test_data_after_the_last_request_of_a_connection_is_ignored():
    read = reader()
    read.feed(b"GET /a HTTP/1.0\r\n\r\n" + SMUGGLED)
    assert [r.target for r in read.ready] == ["/a"] and read.error is None and read.stopped


def test_headers_become_environ_keys_and_names_with_underscores_are_dropped():
    read = reader()
    read.feed(b"GET /p?q=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX_A: evil\r\nx-a: 2\r\n"
              b"Content-Type: text/plain\r\n\r\n")
    request = read.take()
    assert request.headers == {"HTTP_HOST": "a", "HTTP_X_A": "1,2",
                               "CONTENT_TYPE": "text/plain"}
    assert (request.target, request.version, request.keep_alive) == ("/p?q=1", "1.1", True)


@pytest.mark.parametrize("data, keep_alive", [
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", True),
    (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\n\r\n", False),
    (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
])
def test_keep_alive(data, keep_alive):
    read = reader()
    read.feed(data)
    assert read.take().keep_alive is keep_alive


def test_a_body_over_the_limit_is_queued_unread_and_reading_stops():
    read = reader(limit=100)
    read.feed(post_cl(5000) + b"x" * 50)
    request = read.take()
    assert (request.oversize, request.body, request.keep_alive) == (5000, b"", False)
    read.feed(b"x" * 5000 + SMUGGLED)
    assert not read.ready and read.stopped


def test_a_chunked_body_over_the_limit_is_cut_where_it_passes_it():
    read = reader(limit=100)
    read.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              + b"40\r\n" + b"x" * 64 + b"\r\n" + b"40\r\n" + b"x" * 64 + b"\r\n")
    request = read.take()
    assert request.oversize == 128 and request.body == b"" and read.stopped


def test_a_body_the_budget_cannot_hold_is_refused_before_it_is_read():
    read = reader(fits=lambda size: size < 1000)
    read.feed(post_cl(5000))
    request = read.take()
    assert request.refused[0] == 503 and "MODELKILN_MEMORY_BUDGET" in request.refused[1]
    assert request.keep_alive is False and read.stopped


def test_many_tiny_chunks_cost_linear_time():
    """8 MB of 1-byte chunks: the decoder goes through them once (seconds if quadratic)."""
    import time

    data = b"1\r\nx\r\n" * 200000 + b"0\r\n\r\n"
    read = reader()
    started = time.process_time()
    read.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
    for start in range(0, len(data), 65536):
        read.feed(data[start:start + 65536])
    spent = time.process_time() - started
    assert read.take().body == b"x" * 200000
    assert spent < 5.0, spent  # a generous bound: linear takes ~0.1 s here


def test_an_upgrade_request_is_answered_as_http_1_1_with_its_body():
    read = reader()
    read.feed(b"POST /p HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
              b"Content-Length: 10\r\n\r\nabc")
    read.feed(b"defghij" + SMUGGLED)
    request = read.take()
    assert (request.body, request.keep_alive) == (b"abcdefghij", False)
    assert not read.ready


def test_the_head_limit_holds_across_small_pieces():
    read = reader()
    read.feed(b"GET / HTTP/1.1\r\nHost: a\r\n")
    for _ in range(2000):
        read.feed(b"X-Long: " + b"a" * 60 + b"\r\n")
    assert read.error.status.startswith("431")
    assert read.retained <= http1.MAX_HEAD + http1.HEAD_SLICE + 70


def post_cl(length):
    return b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % length

