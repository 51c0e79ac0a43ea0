"""Requests the HTTP/1.1 layer must refuse, and requests it must serve: one table for the
parser's unit tests (test_http1.py) and the live smuggling corpus (tests/reliability).

Every refused case is followed, in the same write, by ``GET /SMUGGLED``: a server that
answers it took part of the bad request as its own framing.
"""

from typing import List, NamedTuple

SMUGGLED = b"GET /SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n"
BODY26 = b'{"data":{"ndarray":[[1]]}}'  # 26 bytes


class Case(NamedTuple):
    name: str
    data: bytes
    status: int       # the one answer the server gives, then it closes the connection
    says: str         # in the error message


def post(headers: bytes, body: bytes = b"") -> bytes:
    return b"POST /predict HTTP/1.1\r\nHost: a\r\n" + headers + b"\r\n" + body


def chunks(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


REFUSED = [
    # Transfer-Encoding other than exactly "chunked" (CL.TE, TE.CL, TE.TE families)
    Case("te-xchunked", post(b"Transfer-Encoding: xchunked\r\n", chunks(BODY26)), 501,
         "Transfer-Encoding"),
    Case("te-chunked-identity", post(b"Transfer-Encoding: chunked, identity\r\n",
                                     chunks(BODY26)), 400, "Transfer-Encoding"),
    Case("te-gzip-chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", chunks(BODY26)), 501,
         "Transfer-Encoding"),
    Case("te-twice", post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                          chunks(BODY26)), 400, "Transfer-Encoding"),
    Case("te-space-before-colon", post(b"Transfer-Encoding : chunked\r\n", chunks(BODY26)),
         400, "header"),
    Case("te-vertical-tab", post(b"Transfer-Encoding:\x0bchunked\r\n", chunks(BODY26)), 400,
         ""),
    Case("te-on-http-1.0", b"POST /predict HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
         + chunks(BODY26), 400, "HTTP/1.0"),
    Case("cl-te", post(b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", chunks(BODY26)),
         400, "Content-Length"),
    Case("te-cl", post(b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", chunks(BODY26)),
         400, "Content-Length"),
    # Content-Length: one decimal number, once
    Case("cl-twice-different", post(b"Content-Length: 26\r\nContent-Length: 5\r\n", BODY26),
         400, "Content-Length"),
    Case("cl-twice-same", post(b"Content-Length: 26\r\nContent-Length: 26\r\n", BODY26), 400,
         "Content-Length"),
    Case("cl-plus", post(b"Content-Length: +26\r\n", BODY26), 400, "Content-Length"),
    Case("cl-underscore", post(b"Content-Length: 2_6\r\n", BODY26), 400, "Content-Length"),
    Case("cl-hex", post(b"Content-Length: 0x1a\r\n", BODY26), 400, "Content-Length"),
    Case("cl-list", post(b"Content-Length: 26, 26\r\n", BODY26), 400, "Content-Length"),
    Case("cl-negative", post(b"Content-Length: -1\r\n", BODY26), 400, "Content-Length"),
    Case("cl-not-a-number", post(b"Content-Length: ten\r\n", BODY26), 400, "Content-Length"),
    # chunk sizes: hex digits only
    Case("chunk-size-0x", post(b"Transfer-Encoding: chunked\r\n",
                               b"0x1a\r\n" + BODY26 + b"\r\n0\r\n\r\n"), 400, "chunk size"),
    Case("chunk-size-plus", post(b"Transfer-Encoding: chunked\r\n",
                                 b"+1a\r\n" + BODY26 + b"\r\n0\r\n\r\n"), 400, "chunk size"),
    Case("chunk-size-overflow", post(b"Transfer-Encoding: chunked\r\n",
                                     b"fffffffffffffffff1a\r\n" + BODY26), 400, "chunk size"),
    Case("chunk-size-not-hex", post(b"Transfer-Encoding: chunked\r\n", b"zz\r\n"), 400,
         "chunk size"),
    Case("chunk-data-too-long", post(b"Transfer-Encoding: chunked\r\n",
                                     b"2\r\nabc\r\n0\r\n\r\n"), 400, ""),
    Case("chunk-bare-lf", post(b"Transfer-Encoding: chunked\r\n",
                               b"1a\n" + BODY26 + b"\n0\n\n"), 400, ""),
    # control characters and line endings
    Case("lf-in-value", b"GET /health/ping HTTP/1.1\r\nHost: a\r\nX: a\nTransfer-Encoding: "
         b"chunked\r\n\r\n0\r\n\r\n", 400, ""),
    Case("cr-in-value", b"GET /health/ping HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, ""),
    Case("nul-in-value", b"GET /health/ping HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, ""),
    Case("ctl-in-value", b"GET /health/ping HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400, ""),
    Case("bare-lf-lines", b"GET /health/ping HTTP/1.1\nHost: a\n\n", 400, ""),
    Case("bare-lf-in-headers", b"GET /health/ping HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400, ""),
    Case("lone-cr-line", post(b"Content-Length: 26\r\n\r: x\r\n", BODY26), 400, ""),
    Case("lone-cr-line-no-body", b"GET /health/ping HTTP/1.1\r\nHost: a\r\n\r: x\r\n\r\n", 400,
         ""),
    # names and the request line
    Case("space-in-name", b"GET /health/ping HTTP/1.1\r\nHost: a\r\nX Y: b\r\n\r\n", 400,
         "header"),
    Case("space-before-colon", b"GET /health/ping HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n", 400,
         "header"),
    Case("no-colon", b"GET /health/ping HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n", 400, ""),
    Case("lowercase-method", b"get /health/ping HTTP/1.1\r\nHost: a\r\n\r\n", 400, "method"),
    Case("not-http", b"HELLO\r\n\r\n", 400, ""),
    Case("tls-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, ""),
    Case("http-2.0-line", b"GET /health/ping HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/1.1"),
    Case("http-0.9-line", b"GET /health/ping HTTP/0.9\r\nHost: a\r\n\r\n", 505, "HTTP/1.1"),
    Case("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "HTTP/1.1"),
    # Host: exactly one on HTTP/1.1
    Case("no-host", b"GET /health/ping HTTP/1.1\r\n\r\n", 400, "Host"),
    Case("two-hosts", b"GET /health/ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Host"),
    # size
    Case("head-too-large", b"GET /" + b"a" * 80000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 431,
         "larger than"),
    Case("header-too-large", b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 80000 + b"\r\n\r\n",
         431, "larger than"),
]

# Served: (name, request bytes, what the server must see)
SERVED = [
    ("content-length", post(b"Content-Length: 26\r\n", BODY26), BODY26),
    ("chunked", post(b"Transfer-Encoding: chunked\r\n", chunks(BODY26[:10], BODY26[10:])),
     BODY26),
    ("chunked-case", post(b"Transfer-Encoding: Chunked\r\n", chunks(BODY26)), BODY26),
    ("chunk-extension", post(b"Transfer-Encoding: chunked\r\n",
                             b"1a;name=value\r\n" + BODY26 + b"\r\n0\r\n\r\n"), BODY26),
    ("chunk-trailer", post(b"Transfer-Encoding: chunked\r\n",
                           b"1a\r\n" + BODY26 + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"), BODY26),
    ("http-1.0-keep-alive-no-host", b"POST /predict HTTP/1.0\r\nConnection: keep-alive\r\n"
     b"Content-Length: 26\r\n\r\n" + BODY26, BODY26),
    ("value-with-obs-text", post(b"X-Note: caf\xe9\r\nContent-Length: 26\r\n", BODY26), BODY26),
]


def names(cases: List[Case]) -> List[str]:
    return [case.name for case in cases]
