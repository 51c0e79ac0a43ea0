"""The bodies http1 frames itself (on the py36 pins, whose llhttp 6 is lenient) against
llhttp 9 as an oracle: random heads and chunked framings, fed in random pieces, must be
refused or served alike."""

import pytest
from hypothesis import given, settings, strategies as st

from python_runtime.transport import http1
from python_runtime.transport.http1 import RequestReader

from .http1_cases import SMUGGLED

pytestmark = pytest.mark.skipif(http1.OWN_BODIES, reason="needs a strict llhttp as the oracle")

INTERESTING = st.sampled_from([b"\r", b"\n", b"\r\n", b" ", b"\t", b";", b"=", b"0", b"f", b"x",
                               b"\x00", b"\x01", b"\xff", b":", b"G", b""])


@st.composite
def requests(draw):
    """A POST framed by Content-Length or chunked (with extensions and trailers sometimes),
    then maybe damaged: a byte sequence inserted, replaced or removed somewhere."""
    chunks = draw(st.lists(st.binary(min_size=1, max_size=30), max_size=5))
    if draw(st.booleans()):
        body = b"".join(chunks)
        head = b"Host: a\r\nContent-Length: %d\r\n" % len(body)
    else:
        ext = draw(st.sampled_from([b"", b";a", b";a=b", b';a="b c"']))
        body = b"".join(b"%x%s\r\n%s\r\n" % (len(c), ext, c) for c in chunks) + b"0\r\n"
        body += draw(st.sampled_from([b"", b"X-T: 1\r\n"])) + b"\r\n"
        head = b"Host: a\r\nTransfer-Encoding: chunked\r\n"
    data = b"POST /p HTTP/1.1\r\n" + head + b"\r\n" + body
    damaged = draw(st.booleans())
    if damaged:
        at = draw(st.integers(min_value=0, max_value=len(data)))
        cut = draw(st.integers(min_value=0, max_value=2))
        data = data[:at] + draw(INTERESTING) + data[at + cut:]
    return data, damaged


@settings(max_examples=1000, deadline=None)
@given(request=requests(), cut=st.integers(min_value=1, max_value=50))
def test_own_bodies_agree_with_llhttp_9(request, cut):
    """Framing bodies here (the path the py36 pins take) against llhttp 9: a well-formed
    request is served alike; a damaged one is never served where llhttp 9 refuses it, and
    where both serve it they agree. (This path is stricter in places: it refuses a chunk
    extension value that runs a token into a quoted string, which llhttp 9 lets through.)"""
    data, damaged = request
    data += SMUGGLED

    def outcome(own):
        read = RequestReader(1 << 20, lambda size: True, own_bodies=own)
        for start in range(0, len(data), cut):
            read.feed(data[start:start + cut])
        return ([(r.method, r.target, r.body) for r in read.ready], read.error is not None,
                read.in_request)

    strict, own = outcome(False), outcome(True)
    if not damaged:
        assert own == strict and not own[1]
    elif not own[1]:
        assert own == strict
