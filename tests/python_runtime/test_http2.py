"""``python_runtime/transport/http2.py`` (the gRPC port's HTTP/2 server side) against the ``h2``
library as the client, all in memory: bytes from one side are fed to the other by hand."""

import random
import struct
from typing import Iterable, Sequence  # noqa: UP035 (Python 3.6: the py36 image runs this)
from typing import Any, Dict, List, Optional, Tuple

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from python_runtime.transport import http2
from python_runtime.transport.http2 import (
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    ENDED,
    GOAWAY,
    HEADERS,
    MESSAGE,
    OVERSIZE,
    PADDED,
    PING,
    PRIORITY_FLAG,
    RESET,
    RST_STREAM,
    SETTINGS,
    STARTED,
    WINDOW_UPDATE,
    frame,
)

REQUEST = [(":method", "POST"), (":scheme", "http"), (":path", "/pkg.Svc/M"),
           (":authority", "x"), ("content-type", "application/grpc"), ("te", "trailers")]
HEAD = http2.header_block([(":status", "200"), ("content-type", "application/grpc")])
TRAILERS_OK = http2.header_block([("grpc-status", "0")])
Codes = h2.settings.SettingCodes
Frame = Tuple[int, int, int, bytes]  # type, flags, stream id, payload
Brief = Tuple[int, int, Any]  # an http2 event with the stream's id for the stream


def grpc(payload: bytes, compressed: int = 0) -> bytes:
    """One gRPC length-prefixed message."""
    return struct.pack(">BI", compressed, len(payload)) + payload


def pattern(size: int, seed: int = 0) -> bytes:
    """``size`` pseudo-random bytes (a lost, doubled or misplaced chunk shows)."""
    return random.Random(seed).getrandbits(8 * size).to_bytes(size, "big") if size else b""


def u32s(*values: int) -> bytes:
    """Big-endian 32-bit words (stream ids, error codes, increments)."""
    return b"".join(struct.pack(">I", value) for value in values)


def setting(key: int, value: int) -> bytes:
    """One SETTINGS parameter."""
    return struct.pack(">HI", key, value)


def frames(data: bytes) -> List[Frame]:
    """The whole frames in ``data``."""
    out = []
    pos = 0
    while len(data) - pos >= 9:
        head, flags, stream_id = http2.FRAME_HEAD.unpack_from(data, pos)
        length = head >> 8
        assert len(data) - pos - 9 >= length, "a truncated frame"
        out.append((head & 0xFF, flags, stream_id & 0x7FFFFFFF,
                    bytes(data[pos + 9:pos + 9 + length])))
        pos += 9 + length
    assert pos == len(data), "bytes after the last frame"
    return out


def brief(events: Iterable[http2.Event]) -> List[Brief]:
    """``(kind, stream id, value)`` for each event."""
    return [(kind, stream.id, value) for kind, stream, value in events]


def take(out: bytearray) -> bytes:
    """Drain a connection's ``out``."""
    data = bytes(out)
    del out[:]
    return data


class Peers:
    """An h2 client and an ``http2.Connection`` joined by in-memory byte pipes."""

    def __init__(self, max_message: int = 1 << 20,
                 client_settings: Optional[Dict[int, int]] = None,
                 handshake: bool = True) -> None:
        self.server = http2.Connection(max_message)
        self.client = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        self.client.initiate_connection()
        if client_settings:
            self.client.update_settings(client_settings)
        self.server_events: List[http2.Event] = []
        self.server_frames: List[Frame] = []
        if handshake:
            self.pump()

    def to_server(self) -> List[Brief]:
        """The client's pending bytes into the server: the server's events."""
        events = self.server.receive(self.client.data_to_send())
        self.server_events += events
        return brief(events)

    def to_client(self) -> List[h2.events.Event]:
        """The server's pending bytes into the client: the client's events."""
        data = take(self.server.out)
        self.server_frames += frames(data)
        return self.client.receive_data(data)

    def pump(self) -> List[h2.events.Event]:
        """Bytes both ways until both sides are quiet: the client's events."""
        events: List[h2.events.Event] = []
        for _ in range(1000):
            data = self.client.data_to_send()
            if data:
                self.server_events += self.server.receive(data)
            if self.server.out:
                events += self.to_client()
            elif not data:
                return events
        raise AssertionError("the peers never went quiet")

    def stream(self, stream_id: int) -> http2.Stream:
        """The server's stream ``stream_id`` (from its STARTED event)."""
        for kind, stream, _ in self.server_events:
            if kind == STARTED and stream.id == stream_id:
                return stream
        raise AssertionError(f"stream {stream_id} never started")

    def request(self, body: bytes = b"", end: bool = True) -> int:
        """A gRPC request's HEADERS (and ``body`` as one DATA frame): its stream id."""
        stream_id = self.client.get_next_available_stream_id()
        self.client.send_headers(stream_id, REQUEST, end_stream=end and not body)
        if body:
            self.client.send_data(stream_id, body, end_stream=end)
        return stream_id


class RawClient:
    """Hand-made frames for what ``h2`` will not send (its HPACK state matches the server's)."""

    def __init__(self) -> None:
        self.encoder = hpack.Encoder()

    def block(self, fields: Sequence[Tuple[str, str]] = REQUEST) -> bytes:
        """A header block (indexed into this client's HPACK table)."""
        return self.encoder.encode(fields)

    def headers(self, stream_id: int, flags: int = END_HEADERS) -> bytes:
        """A HEADERS frame of the gRPC request head."""
        return frame(HEADERS, flags, stream_id, self.block())


def opened(max_message: int = 1 << 20) -> http2.Connection:
    """A server connection past the preface and the client's (empty) SETTINGS."""
    server = http2.Connection(max_message)
    assert server.receive(http2.PREFACE + frame(SETTINGS, 0, 0)) == []
    assert not server.closed
    del server.out[:]
    return server


def of_type(events: Iterable[Any], kind: type) -> List[Any]:
    """The h2 events of one class."""
    return [event for event in events if isinstance(event, kind)]


def drain_answer(peers: Peers, stream_id: int,
                 acknowledge: bool = True) -> Tuple[bytes, List[str]]:
    """Receive the answer on ``stream_id``, acknowledging its DATA as it comes: the data and
    the order of what came ("data" per DATA frame, then "trailers", "end")."""
    data = bytearray()
    order: List[str] = []
    for _ in range(10000):
        events = peers.to_client()
        for event in events:
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, h2.events.DataReceived):
                data += event.data
                order.append("data")
                if acknowledge:
                    peers.client.acknowledge_received_data(event.flow_controlled_length,
                                                           stream_id)
            elif isinstance(event, h2.events.TrailersReceived):
                order.append("trailers")
            elif isinstance(event, h2.events.StreamEnded):
                order.append("end")
                return bytes(data), order
        sent = peers.client.data_to_send()
        if not sent and not events:
            raise AssertionError(f"stuck after {len(data)} bytes: {order[-3:]!r}")
        peers.server_events += peers.server.receive(sent)
    raise AssertionError("the answer never ended")


# -- 1. a unary call --------------------------------------------------------------------------

def test_unary_request_in_one_go_and_its_answer() -> None:
    peers = Peers()
    stream_id = peers.request(grpc(b"hello"))
    assert peers.to_server() == [(STARTED, 1, None), (MESSAGE, 1, (0, b"hello")),
                                 (ENDED, 1, False)]
    stream = peers.stream(1)
    assert stream.headers == REQUEST
    assert stream.header(":path") == "/pkg.Svc/M" and stream.header("grpc-timeout") is None

    peers.server.send_headers(stream, HEAD)
    peers.server.send_message(stream, b"world!")
    peers.server.finish(stream, TRAILERS_OK)
    assert [(kind, flags, sid) for kind, flags, sid, _ in frames(peers.server.out)] == [
        (HEADERS, END_HEADERS, 1), (DATA, 0, 1), (HEADERS, END_HEADERS | END_STREAM, 1)]
    events = peers.to_client()
    assert [type(event) for event in events] == [
        h2.events.ResponseReceived, h2.events.DataReceived, h2.events.TrailersReceived,
        h2.events.StreamEnded]
    response, data, trailers, _ = events
    assert response.headers == [(":status", "200"), ("content-type", "application/grpc")]
    assert data.data == grpc(b"world!") == b"\x00\x00\x00\x00\x06world!"
    assert trailers.headers == [("grpc-status", "0")] and trailers.stream_ended is not None
    assert stream_id not in peers.server.streams and peers.server.idle
    assert stream.answered and peers.server.buffered == 0
    assert peers.client.data_to_send() == b""  # nothing to say: no protocol error


# -- 2. one message in pieces -----------------------------------------------------------------

@pytest.mark.parametrize("piece", [1, 2, 5, 64, 1000])
def test_message_over_many_data_frames(piece: int) -> None:
    peers = Peers()
    message = grpc(pattern(700))
    peers.client.send_headers(1, REQUEST)
    for offset in range(0, len(message), piece):
        peers.client.send_data(1, message[offset:offset + piece])
    peers.client.end_stream(1)
    assert peers.to_server() == [(STARTED, 1, None), (MESSAGE, 1, (0, pattern(700))),
                                 (ENDED, 1, False)]


@pytest.mark.parametrize("cut", [1, 4, 5, 6, 300, 704])
def test_message_spanning_two_receive_calls(cut: int) -> None:
    peers = Peers()
    message = grpc(pattern(700))
    peers.client.send_headers(1, REQUEST)
    peers.client.send_data(1, message[:cut])
    assert peers.to_server() == [(STARTED, 1, None)]
    assert peers.server.buffered == cut  # the partial message is held (and counted)
    peers.client.send_data(1, message[cut:], end_stream=True)
    assert peers.to_server() == [(MESSAGE, 1, (0, pattern(700))), (ENDED, 1, False)]
    assert peers.server.buffered == 0


def test_byte_stream_fed_one_byte_at_a_time() -> None:
    client = h2.connection.H2Connection(config=h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    client.initiate_connection()
    client.send_headers(1, REQUEST)
    message = grpc(pattern(300, seed=1), compressed=1)
    client.send_data(1, message[:100])
    client.send_data(1, message[100:], end_stream=True)
    wire = client.data_to_send()
    server = http2.Connection(1 << 20)
    events: List[Brief] = []
    for index in range(len(wire)):
        events += brief(server.receive(wire[index:index + 1]))
    assert events == [(STARTED, 1, None), (MESSAGE, 1, (1, pattern(300, seed=1))),
                      (ENDED, 1, False)]
    assert server.preface_seen and not server.closed and not server.inbuf
    assert (SETTINGS, http2.ACK, 0, b"") in frames(server.out)  # the client's SETTINGS acked


@pytest.mark.parametrize("body, events", [
    (grpc(b"abc"), [(MESSAGE, 1, (0, b"abc")), (ENDED, 1, False)]),
    (grpc(b"abc")[:3], [(ENDED, 1, True)]),
    (grpc(b"abc")[:6], [(ENDED, 1, True)]),
    (grpc(b"abc") + grpc(b"de")[:5], [(MESSAGE, 1, (0, b"abc")), (ENDED, 1, True)]),
    (b"", [(ENDED, 1, False)]),
])
def test_ended_tells_whether_a_message_was_cut_short(body: bytes, events: List[Brief]) -> None:
    peers = Peers()
    peers.client.send_headers(1, REQUEST)
    assert peers.to_server() == [(STARTED, 1, None)]
    peers.client.send_data(1, body, end_stream=True)
    assert peers.to_server() == events


# -- 3. several messages in one frame ---------------------------------------------------------

@pytest.mark.parametrize("messages", [
    [(0, b"one"), (0, b"two")],
    [(1, b"zipped"), (0, b"plain")],
    [(0, b""), (0, b"x"), (0, b"")],
    [(0, pattern(5000)), (0, pattern(17, seed=2)), (1, pattern(3, seed=3))],
])
def test_messages_in_one_data_frame(messages: List[Tuple[int, bytes]]) -> None:
    peers = Peers()
    peers.client.send_headers(1, REQUEST)
    peers.client.send_data(1, b"".join(grpc(payload, flag) for flag, payload in messages),
                           end_stream=True)
    assert peers.to_server() == ([(STARTED, 1, None)]
                                 + [(MESSAGE, 1, message) for message in messages]
                                 + [(ENDED, 1, False)])


# -- 4. flow control of the answer ------------------------------------------------------------

@pytest.mark.parametrize("client_settings, increment, size, first_burst, largest", [
    ({Codes.INITIAL_WINDOW_SIZE: 1000}, 0, 100000, 1000, 1000),
    ({}, 0, 200000, 65535, 16384),
    ({Codes.INITIAL_WINDOW_SIZE: 1 << 20, Codes.MAX_FRAME_SIZE: 20000}, 1 << 20, 100000,
     100005, 20000),
])
def test_answer_larger_than_the_client_window(client_settings: Dict[int, int], increment: int,
                                              size: int, first_burst: int,
                                              largest: int) -> None:
    peers = Peers(client_settings=client_settings)
    if increment:
        peers.client.increment_flow_control_window(increment)
    peers.request(grpc(b"q"))
    peers.to_server()
    stream = peers.stream(1)
    answer = pattern(size, seed=4)
    peers.server.send_headers(stream, HEAD)
    peers.server.send_message(stream, answer)
    peers.server.finish(stream, TRAILERS_OK)
    sent = frames(peers.server.out)
    assert sum(len(payload) for kind, _, _, payload in sent if kind == DATA) == first_burst
    assert (sent[-1][0] == HEADERS) == (first_burst == size + 5)  # trailers wait for the data
    data, order = drain_answer(peers, 1)
    assert data == grpc(answer)
    assert order[-2:] == ["trailers", "end"] and set(order[:-2]) == {"data"}
    sizes = [len(payload) for kind, _, _, payload in peers.server_frames if kind == DATA]
    assert max(sizes) == largest
    assert peers.server.idle and not peers.server.closed


# -- 5. flow control of the request -----------------------------------------------------------

def test_request_larger_than_the_receive_windows() -> None:
    peers = Peers(max_message=16 << 20)
    handshake = len(peers.server_frames)
    message = grpc(pattern(9 << 20, seed=5))  # > 64 KiB and > 2 x http2.RECEIVE_WINDOW
    peers.client.send_headers(1, REQUEST)
    window_updates: List[Any] = []
    offset = 0
    while offset < len(message):
        size = min(peers.client.local_flow_control_window(1), http2.MAX_FRAME,
                   len(message) - offset)
        assert size > 0, f"the client is blocked after {offset} bytes: no WINDOW_UPDATE"
        peers.client.send_data(1, message[offset:offset + size])
        offset += size
        peers.to_server()
        window_updates += of_type(peers.to_client(), h2.events.WindowUpdated)
    peers.client.end_stream(1)
    peers.to_server()
    assert brief(peers.server_events) == [(STARTED, 1, None),
                                          (MESSAGE, 1, (0, pattern(9 << 20, seed=5))),
                                          (ENDED, 1, False)]
    assert {event.stream_id for event in window_updates} == {0, 1}
    updates = [(sid, payload) for kind, _, sid, payload in peers.server_frames[handshake:]
               if kind == WINDOW_UPDATE]
    assert sum(struct.unpack(">I", payload)[0] for sid, payload in updates if sid == 0) >= (
        len(message) - http2.RECEIVE_WINDOW)
    assert not peers.server.closed


# -- 6. messages over the limit ---------------------------------------------------------------

@pytest.mark.parametrize("declared", [101, 1000, (1 << 32) - 1])
def test_message_over_max_message(declared: int) -> None:
    peers = Peers(max_message=100)
    peers.client.send_headers(1, REQUEST)
    peers.client.send_data(1, struct.pack(">BI", 0, declared) + pattern(50))
    assert peers.to_server() == [(STARTED, 1, None), (OVERSIZE, 1, declared)]
    assert peers.server.buffered == 0 and peers.server.streams[1].buf == b""
    peers.client.send_data(1, pattern(50) + grpc(b"ok"))
    assert peers.to_server() == []
    peers.client.send_data(1, grpc(b"more"), end_stream=True)
    assert peers.to_server() == [(ENDED, 1, False)]


def test_message_of_exactly_max_message_is_taken() -> None:
    peers = Peers(max_message=100)
    peers.request(grpc(pattern(100)))
    assert peers.to_server() == [(STARTED, 1, None), (MESSAGE, 1, (0, pattern(100))),
                                 (ENDED, 1, False)]


def test_too_much_partial_data_on_the_connection_refuses_the_stream_adding_to_it() -> None:
    peers = Peers(max_message=1000)
    peers.server.max_buffered = 1500
    peers.client.send_headers(1, REQUEST)
    peers.client.send_data(1, grpc(pattern(995))[:900])
    peers.client.send_headers(3, REQUEST)
    peers.client.send_data(3, grpc(pattern(995))[:700])
    assert peers.to_server() == [(STARTED, 1, None), (STARTED, 3, None), (OVERSIZE, 3, -1)]
    assert peers.server.buffered == 900
    peers.client.send_data(3, grpc(b"dropped"), end_stream=True)
    peers.client.send_data(1, grpc(pattern(995))[900:], end_stream=True)
    assert peers.to_server() == [(ENDED, 3, False), (MESSAGE, 1, (0, pattern(995))),
                                 (ENDED, 1, False)]
    assert peers.server.buffered == 0


# -- 7. CONTINUATION and padding --------------------------------------------------------------

def test_request_headers_split_with_continuation() -> None:
    big = "".join(chr(0x61 + (index * 7) % 26) for index in range(40000))
    peers = Peers(handshake=False)  # h2 still assumes a 16384-byte MAX_FRAME_SIZE
    peers.client.send_headers(1, REQUEST + [("x-big", big)], end_stream=True)
    wire = peers.client.data_to_send()
    kinds = [kind for kind, _, _, _ in frames(wire[len(http2.PREFACE):])]
    assert kinds.count(CONTINUATION) >= 1, kinds
    events = peers.server.receive(wire)
    assert brief(events) == [(STARTED, 1, None), (ENDED, 1, False)]
    assert peers.server.streams[1].headers == REQUEST + [("x-big", big)]


@pytest.mark.parametrize("fragment", [20, 100])
def test_header_block_in_many_continuation_frames(fragment: int) -> None:
    server = opened()
    raw = RawClient()
    block = raw.block(REQUEST + [("x-trace", "t" * 300)])
    wire = frame(HEADERS, END_STREAM, 1, block[:fragment])
    for offset in range(fragment, len(block), fragment):
        last = offset + fragment >= len(block)
        wire += frame(CONTINUATION, END_HEADERS if last else 0, 1, block[offset:offset + fragment])
    assert brief(server.receive(wire)) == [(STARTED, 1, None), (ENDED, 1, False)]
    assert server.streams[1].headers == REQUEST + [("x-trace", "t" * 300)]
    assert server.continuing is None


def test_padded_headers_with_priority() -> None:
    server = opened()
    block = RawClient().block()
    payload = bytes((9,)) + u32s(0) + bytes((15,)) + block + b"\x00" * 9
    wire = frame(HEADERS, END_HEADERS | PADDED | PRIORITY_FLAG, 1, payload)
    wire += frame(DATA, END_STREAM, 1, grpc(b"p"))
    assert brief(server.receive(wire)) == [(STARTED, 1, None), (MESSAGE, 1, (0, b"p")),
                                           (ENDED, 1, False)]
    assert server.streams[1].headers == REQUEST


def test_answer_headers_split_with_continuation() -> None:
    peers = Peers()
    peers.request(grpc(b"q"))
    peers.to_server()
    big = "v" * 40000
    peers.server.send_headers(peers.stream(1), HEAD + http2.header_block([("x-big", big)]))
    sent = frames(peers.server.out)
    assert [(kind, flags) for kind, flags, _, _ in sent] == [
        (HEADERS, 0), (CONTINUATION, 0), (CONTINUATION, END_HEADERS)]
    assert [len(payload) for _, _, _, payload in sent[:2]] == [16384, 16384]
    (response,) = of_type(peers.to_client(), h2.events.ResponseReceived)
    assert response.headers == [(":status", "200"), ("content-type", "application/grpc"),
                                ("x-big", big)]


@pytest.mark.parametrize("pad_length", [0, 1, 200, 255])
def test_padding_on_data(pad_length: int) -> None:
    peers = Peers()
    message = grpc(pattern(1000, seed=6))
    peers.client.send_headers(1, REQUEST)
    peers.client.send_data(1, message[:400], pad_length=pad_length)
    peers.client.send_data(1, message[400:], pad_length=pad_length, end_stream=True)
    assert peers.to_server() == [(STARTED, 1, None), (MESSAGE, 1, (0, pattern(1000, seed=6))),
                                 (ENDED, 1, False)]


# -- 8, 9. PING and RST_STREAM ----------------------------------------------------------------

def test_ping_is_answered_with_the_same_bytes() -> None:
    peers = Peers()
    peers.client.ping(b"\x00kiln\xff\x01\x02")
    peers.to_server()
    assert frames(peers.server.out) == [(PING, http2.ACK, 0, b"\x00kiln\xff\x01\x02")]
    (ack,) = of_type(peers.to_client(), h2.events.PingAckReceived)
    assert ack.ping_data == b"\x00kiln\xff\x01\x02"
    assert peers.server.receive(frame(PING, http2.ACK, 0, b"12345678")) == []
    assert peers.server.out == b""  # an ACK is not answered


@pytest.mark.parametrize("code", [h2.errors.ErrorCodes.CANCEL, h2.errors.ErrorCodes.NO_ERROR])
def test_client_reset_after_headers(code: int) -> None:
    peers = Peers()
    peers.client.send_headers(1, REQUEST)
    peers.client.send_data(1, grpc(b"partial")[:8])
    assert peers.to_server() == [(STARTED, 1, None)]
    assert peers.server.buffered == 8
    stream = peers.stream(1)
    peers.client.reset_stream(1, error_code=code)
    assert peers.to_server() == [(RESET, 1, int(code))]
    assert 1 not in peers.server.streams and peers.server.buffered == 0 and peers.server.idle
    peers.server.send_headers(stream, HEAD)  # the gRPC layer answering late: nothing sent
    peers.server.send_message(stream, b"late")
    peers.server.finish(stream, TRAILERS_OK)
    assert peers.server.out == b""


# -- 10. not HTTP/2 ---------------------------------------------------------------------------

@pytest.mark.parametrize("chunks", [
    [b"GET / HTTP/1.1\r\n\r\n"],
    [b"GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n"],
    [b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"],
    [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"],  # TLS to a plaintext port
    [b"PRI * HTTP", b"/1.1\r\n\r\nSM\r\n\r\n"],
    [b"P", b"R", b"I", b"!"],
])
def test_not_an_http2_preface(chunks: List[bytes]) -> None:
    server = http2.Connection(1 << 20)
    for chunk in chunks[:-1]:
        assert server.receive(chunk) == [] and not server.closed
    assert server.receive(chunks[-1]) == []
    assert server.closed and not server.preface_seen
    last = frames(server.out)[-1]
    assert last[:3] == (GOAWAY, 0, 0) and last[3][:8] == u32s(0, http2.PROTOCOL_ERROR)
    before = bytes(server.out)
    assert server.receive(http2.PREFACE) == [] and server.out == before  # closed stays closed


def test_preface_one_byte_at_a_time() -> None:
    server = http2.Connection(1 << 20)
    for index in range(len(http2.PREFACE)):
        assert server.receive(http2.PREFACE[index:index + 1]) == []
    assert server.preface_seen and not server.closed


# -- 11, 12. stream limit and GOAWAY ----------------------------------------------------------

def test_streams_over_max_streams_are_refused_and_goaway_draws_the_line() -> None:
    peers = Peers(handshake=False)  # h2 has not yet seen MAX_CONCURRENT_STREAMS: it opens 257
    for _ in range(http2.MAX_STREAMS + 1):
        peers.request()
    accepted = list(range(1, 2 * http2.MAX_STREAMS, 2))
    events = peers.to_server()
    assert [sid for kind, sid, _ in events if kind == STARTED] == accepted
    assert [sid for kind, sid, _ in events if kind != STARTED] == accepted  # ENDED
    assert sorted(peers.server.streams) == accepted
    refused = 2 * http2.MAX_STREAMS + 1
    assert [(sid, payload) for kind, _, sid, payload in frames(peers.server.out)
            if kind == RST_STREAM] == [(refused, u32s(http2.REFUSED_STREAM))]
    (reset,) = of_type(peers.to_client(), h2.events.StreamReset)
    assert (reset.stream_id, reset.error_code) == (refused, h2.errors.ErrorCodes.REFUSED_STREAM)

    for sid in (1, 3):  # two answered: room for one more stream, and one for after GOAWAY
        peers.server.send_headers(peers.stream(sid), HEAD + TRAILERS_OK, end=True)
    peers.pump()
    last = peers.request()
    assert peers.to_server() == [(STARTED, last, None), (ENDED, last, False)]

    peers.server.goaway()
    after = peers.request()  # on its way before the GOAWAY arrives
    assert peers.to_server() == []
    sent = frames(peers.server.out)
    assert sent == [(GOAWAY, 0, 0, u32s(last, http2.NO_ERROR)),
                    (RST_STREAM, 0, after, u32s(http2.REFUSED_STREAM))]
    (terminated,) = peers.client.receive_data(bytes(peers.server.out[:17]))  # the GOAWAY
    assert isinstance(terminated, h2.events.ConnectionTerminated)
    assert (terminated.last_stream_id, terminated.error_code) == (last, 0)
    assert after not in peers.server.streams and last in peers.server.streams


def test_goaway_last_stream_is_the_last_accepted_one() -> None:
    peers = Peers()
    for _ in range(2):
        peers.request(end=False)
    peers.to_server()
    peers.server.goaway()
    peers.request()
    assert peers.to_server() == []
    assert frames(peers.server.out) == [(GOAWAY, 0, 0, u32s(3, http2.NO_ERROR)),
                                        (RST_STREAM, 0, 5, u32s(http2.REFUSED_STREAM))]
    peers.server.goaway()  # a second graceful goaway() says nothing new
    assert len(frames(peers.server.out)) == 2
    del peers.server.out[:]
    peers.server.send_headers(peers.stream(3), HEAD)  # the open streams are still answered
    peers.server.send_message(peers.stream(3), b"still")
    assert [kind for kind, _, sid, _ in frames(peers.server.out)] == [HEADERS, DATA]


def test_announce_goaway_still_takes_new_streams() -> None:
    peers = Peers()
    peers.request(end=False)
    peers.to_server()
    peers.server.announce_goaway()
    assert frames(peers.server.out) == [(GOAWAY, 0, 0, u32s((1 << 31) - 1, http2.NO_ERROR))]
    peers.request()  # on its way while the GOAWAY is
    assert peers.to_server() == [(STARTED, 3, None), (ENDED, 3, False)]
    (terminated,) = peers.to_client()
    assert isinstance(terminated, h2.events.ConnectionTerminated)
    assert (terminated.last_stream_id, terminated.error_code) == ((1 << 31) - 1, 0)
    assert not peers.server.going_away
    peers.server.goaway()
    assert frames(peers.server.out) == [(GOAWAY, 0, 0, u32s(3, http2.NO_ERROR))]
    raw = RawClient()
    raw.encoder = peers.client.encoder  # same HPACK state as the h2 client
    del peers.server.out[:]
    assert peers.server.receive(raw.headers(5, END_HEADERS | END_STREAM)) == []
    assert frames(peers.server.out) == [(RST_STREAM, 0, 5, u32s(http2.REFUSED_STREAM))]


# -- 13. the peer's INITIAL_WINDOW_SIZE -------------------------------------------------------

def test_initial_window_size_change_moves_open_streams_windows() -> None:
    peers = Peers(client_settings={Codes.INITIAL_WINDOW_SIZE: 1000})
    peers.request(grpc(b"q"))
    peers.to_server()
    stream = peers.stream(1)
    answer = pattern(5000, seed=7)
    peers.server.send_headers(stream, HEAD)
    peers.server.send_message(stream, answer)
    peers.server.finish(stream, TRAILERS_OK)
    data = of_type(peers.to_client(), h2.events.DataReceived)
    assert [len(event.data) for event in data] == [1000]  # and no acknowledgement
    assert stream.send_window == 0 and len(stream.pending) == 4005
    peers.client.update_settings({Codes.INITIAL_WINDOW_SIZE: 10000})
    events = peers.pump()
    assert b"".join(event.data for event in of_type(data + events, h2.events.DataReceived)) == (
        grpc(answer))
    assert len(of_type(events, h2.events.TrailersReceived)) == 1
    assert stream.send_window == 10000 - 5005 and peers.server.idle


def test_window_made_negative_by_settings_waits_for_updates() -> None:
    server = opened()
    server.receive(frame(SETTINGS, 0, 0, setting(http2.INITIAL_WINDOW_SIZE, 1000))
                   + RawClient().headers(1, END_HEADERS | END_STREAM))
    stream = server.streams[1]
    server.send_message(stream, pattern(3000))
    server.finish(stream, TRAILERS_OK)
    assert [(kind, len(payload)) for kind, _, _, payload in frames(take(server.out))] == [
        (SETTINGS, 0), (DATA, 1000)]
    server.receive(frame(SETTINGS, 0, 0, setting(http2.INITIAL_WINDOW_SIZE, 500)))
    assert frames(take(server.out)) == [(SETTINGS, http2.ACK, 0, b"")]
    assert stream.send_window == -500
    server.receive(frame(WINDOW_UPDATE, 0, 1, u32s(400)))
    assert server.out == b""
    server.receive(frame(WINDOW_UPDATE, 0, 1, u32s(300)))
    assert frames(take(server.out)) == [(DATA, 0, 1, grpc(pattern(3000))[1000:1200])]
    server.receive(frame(SETTINGS, 0, 0, setting(http2.INITIAL_WINDOW_SIZE, 5000)))
    assert [(kind, len(payload)) for kind, _, _, payload in frames(take(server.out))] == [
        (SETTINGS, 0), (DATA, 1805), (HEADERS, len(TRAILERS_OK))]


# -- 14. header_block -------------------------------------------------------------------------

@pytest.mark.parametrize("fields", [
    [(":status", "200"), ("content-type", "application/grpc")],
    [("grpc-status", "3"), ("grpc-message", "Größe überschritten: 模型 ✓")],
    [("x-long", "é" * 100), ("x-127", "a" * 127), ("x-126", "b" * 126), ("x-128", "c" * 128),
     ("x-255", "d" * 255), ("x-254", "e" * 254), ("x-256", "f" * 256)],
    [("x-huge", "z" * 20000), (":status", "404"), ("empty", "")],
    [("n" * 130, "v")],
])
def test_header_block_decodes_to_the_same_fields(fields: List[Tuple[str, str]]) -> None:
    block = http2.header_block(fields)
    decoder = hpack.Decoder()
    decoder.max_header_list_size = 1 << 20
    assert [tuple(field) for field in decoder.decode(block)] == fields
    assert len(decoder.header_table.dynamic_entries) == 0  # literals never indexed
    assert [tuple(field) for field in decoder.decode(block)] == fields


@pytest.mark.parametrize("fields, block", [
    ([(":status", "200")], b"\x88"),
    ([(":status", "404")], b"\x00\x07:status\x03404"),
    ([("a", "x" * 127)], b"\x00\x01a\x7f\x00" + b"x" * 127),
    ([("a", "x" * 128)], b"\x00\x01a\x7f\x01" + b"x" * 128),
    ([("a", "x" * 255)], b"\x00\x01a\x7f\x80\x01" + b"x" * 255),
    ([("a", "x" * 300)], b"\x00\x01a\x7f\xad\x01" + b"x" * 300),
    ([("a", "é")], b"\x00\x01a\x02\xc3\xa9"),
])
def test_header_block_bytes(fields: List[Tuple[str, str]], block: bytes) -> None:
    assert http2.header_block(fields) == block


@pytest.mark.parametrize("size", [4096, 65536, 0, 1024])
def test_answer_headers_after_a_smaller_header_table(size: int) -> None:
    peers = Peers(client_settings={Codes.HEADER_TABLE_SIZE: size})
    peers.request(grpc(b"q"))
    peers.to_server()
    peers.server.send_headers(peers.stream(1), HEAD)
    (response,) = of_type(peers.to_client(), h2.events.ResponseReceived)  # h2 decodes it
    assert response.headers == [(":status", "200"), ("content-type", "application/grpc")]


# -- 15. answering before the request ended ---------------------------------------------------

def test_early_answer_resets_the_stream_and_drops_later_data() -> None:
    peers = Peers()
    peers.request(grpc(b"first"), end=False)
    assert peers.to_server() == [(STARTED, 1, None), (MESSAGE, 1, (0, b"first"))]
    error = http2.header_block([(":status", "200"), ("content-type", "application/grpc"),
                                ("grpc-status", "3"), ("grpc-message", "bad")])
    peers.server.finish(peers.stream(1), error)
    assert frames(peers.server.out) == [(HEADERS, END_HEADERS | END_STREAM, 1, error),
                                        (RST_STREAM, 0, 1, u32s(http2.NO_ERROR))]
    assert peers.server.idle
    peers.client.send_data(1, grpc(b"in flight"))  # sent before the answer came
    assert peers.to_server() == []
    events = peers.to_client()
    assert [type(event) for event in events] == [
        h2.events.ResponseReceived, h2.events.StreamEnded, h2.events.StreamReset]
    assert ("grpc-status", "3") in events[0].headers
    assert events[2].error_code == h2.errors.ErrorCodes.NO_ERROR
    assert peers.server.receive(frame(DATA, 0, 1, grpc(b"late")) + frame(DATA, END_STREAM, 1)) == []
    assert not peers.server.closed and peers.server.out == b""
    peers.request(grpc(b"next"))  # the connection goes on
    assert peers.to_server() == [(STARTED, 3, None), (MESSAGE, 3, (0, b"next")),
                                 (ENDED, 3, False)]


@pytest.mark.parametrize("how", ["answered early", "refused after goaway"])
def test_client_headers_on_a_stream_this_side_reset_are_ignored(how: str) -> None:
    peers = Peers()
    peers.request(end=False)
    peers.to_server()
    if how == "answered early":
        peers.request(end=False)
        peers.to_server()
        peers.server.finish(peers.stream(3), HEAD + http2.header_block([("grpc-status", "3")]))
        code = http2.NO_ERROR
    else:
        peers.server.goaway()
        peers.request(end=False)
        assert peers.to_server() == []
        code = http2.REFUSED_STREAM
    assert (RST_STREAM, 0, 3, u32s(code)) in frames(take(peers.server.out))
    peers.client.send_headers(3, [("x-trailer", "1")], end_stream=True)  # before the RST came
    assert peers.to_server() == []
    assert not peers.server.closed and peers.server.out == b""
    peers.client.send_headers(1, [("x-trailer", "1")], end_stream=True)  # HPACK still in step
    assert peers.to_server() == [(ENDED, 1, False)]


def test_reset_by_this_side() -> None:
    peers = Peers()
    peers.request(grpc(b"q")[:4], end=False)
    peers.to_server()
    stream = peers.stream(1)
    peers.server.reset(stream, http2.CANCEL)
    peers.server.reset(stream, http2.INTERNAL_ERROR)  # once only
    peers.server.send_message(stream, b"late")
    assert frames(peers.server.out) == [(RST_STREAM, 0, 1, u32s(http2.CANCEL))]
    assert peers.server.idle and peers.server.buffered == 0
    (reset,) = of_type(peers.to_client(), h2.events.StreamReset)
    assert (reset.stream_id, reset.error_code) == (1, h2.errors.ErrorCodes.CANCEL)


@pytest.mark.parametrize("wire", [
    frame(WINDOW_UPDATE, 0, 1, u32s(100)),  # a closed stream (stream 1 is answered)
    frame(http2.PRIORITY, 0, 1, u32s(0) + b"\x10"),
    frame(http2.PRIORITY, 0, 9, u32s(0) + b"\x10"),  # an idle stream: allowed
    frame(0x0A, 0xFF, 0, b"altsvc?"),  # extension frame types are ignored
    frame(0xFE, 0, 1, b""),
    frame(PING, http2.ACK, 0, b"\x00" * 8),
    frame(SETTINGS, http2.ACK, 0),
    frame(SETTINGS, 0, 0, setting(0x99, 7)),  # an unknown setting
])
def test_tolerated_frames(wire: bytes) -> None:
    peers = Peers()
    peers.request(grpc(b"q"))
    peers.to_server()
    peers.server.send_headers(peers.stream(1), HEAD + TRAILERS_OK, end=True)
    peers.pump()
    assert peers.server.receive(wire) == []
    assert not peers.server.closed
    assert all(kind in (SETTINGS, PING) for kind, _, _, _ in frames(take(peers.server.out)))
    peers.request(grpc(b"next"))
    assert peers.to_server() == [(STARTED, 3, None), (MESSAGE, 3, (0, b"next")),
                                 (ENDED, 3, False)]


def test_goaway_with_an_error_code_and_fail() -> None:
    server = opened()
    server.goaway()
    server.fail(http2.ENHANCE_YOUR_CALM, "é" * 200)
    assert server.closed and server.going_away
    graceful, error = frames(server.out)
    assert graceful == (GOAWAY, 0, 0, u32s(0, http2.NO_ERROR))
    assert error[3][:8] == u32s(0, http2.ENHANCE_YOUR_CALM)
    assert error[3][8:] == ("é" * 200).encode("utf-8")[:256]


def test_header_pairs_are_the_metadata() -> None:
    assert http2.header_pairs(REQUEST + [("x-user", "a"), ("grpc-timeout", "1S")]) == [
        ("content-type", "application/grpc"), ("te", "trailers"), ("x-user", "a"),
        ("grpc-timeout", "1S")]


# -- connection errors ------------------------------------------------------------------------

def _block() -> bytes:
    """The request head as the first header block of a fresh connection."""
    return RawClient().block()


def FRAME_HEAD_OF(kind: int, flags: int, stream_id: int, length: int) -> bytes:  # noqa: N802
    """A frame header announcing ``length`` bytes (the payload is never sent)."""
    return http2.FRAME_HEAD.pack(length << 8 | kind, flags, stream_id)


def _hpack_int(rest: int) -> bytes:
    """The continuation bytes of an HPACK integer (its prefix already full)."""
    out = bytearray()
    while rest >= 128:
        out.append((rest & 0x7F) | 0x80)
        rest >>= 7
    out.append(rest)
    return bytes(out)


def _streams_of_whole_messages(stream_ids: Iterable[int], count: int) -> bytes:
    """On each stream, ``count`` DATA frames each a whole message (held until released)."""
    raw = RawClient()
    return b"".join(raw.headers(stream_id)
                    + frame(DATA, 0, stream_id, grpc(b"x" * (16384 - 5))) * count
                    for stream_id in stream_ids)


def _error(name: str, wire: bytes, code: int) -> Any:
    """A row of CONNECTION_ERRORS."""
    return pytest.param(name, wire, code, id=name)


CONNECTION_ERRORS = [
    _error("DATA on stream 0", frame(DATA, 0, 0, b"x"), http2.PROTOCOL_ERROR),
    _error("DATA on an idle stream", frame(DATA, 0, 7, b"x"), http2.PROTOCOL_ERROR),
    _error("HEADERS on an even stream", frame(HEADERS, END_HEADERS, 2, _block()),
           http2.PROTOCOL_ERROR),
    _error("CONTINUATION without HEADERS", frame(CONTINUATION, END_HEADERS, 1, _block()),
           http2.PROTOCOL_ERROR),
    _error("a header block interrupted",
           frame(HEADERS, 0, 1, _block()[:3]) + frame(PING, 0, 0, b"\0" * 8),
           http2.PROTOCOL_ERROR),
    _error("HPACK index out of the tables", frame(HEADERS, END_HEADERS, 1, b"\xfe"),
           http2.COMPRESSION_ERROR),
    _error("header block over 64 KiB", frame(HEADERS, 0, 1, _block())
           + frame(CONTINUATION, 0, 1, b"\x00" * 16384) * 3
           + frame(CONTINUATION, END_HEADERS, 1, b"\x00" * 16384), http2.ENHANCE_YOUR_CALM),
    _error("a header block in too many frames", frame(HEADERS, 0, 1, _block())
           + frame(CONTINUATION, 0, 1) * http2.MAX_BLOCK_FRAMES, http2.ENHANCE_YOUR_CALM),
    _error("a frame over MAX_FRAME_SIZE, from its header alone",
           frame(HEADERS, END_HEADERS, 1, _block())
           + FRAME_HEAD_OF(DATA, 0, 1, http2.MAX_FRAME + 1), http2.FRAME_SIZE_ERROR),
    _error("a 16 MiB HEADERS frame, from its header alone",
           FRAME_HEAD_OF(HEADERS, END_HEADERS, 1, (1 << 24) - 1), http2.FRAME_SIZE_ERROR),
    _error("DATA after the stream's end", frame(HEADERS, END_HEADERS | END_STREAM, 1, _block())
           + frame(RST_STREAM, 0, 1, u32s(8)) + frame(DATA, 0, 1, b"x"), http2.STREAM_CLOSED),
    _error("stream ids must increase", frame(HEADERS, END_HEADERS, 5, _block())
           + frame(HEADERS, END_HEADERS, 3, b"\x82"), http2.PROTOCOL_ERROR),
    _error("HEADERS on a closed stream", frame(HEADERS, END_HEADERS, 1, _block())
           + frame(RST_STREAM, 0, 1, u32s(8)) + frame(HEADERS, END_HEADERS, 1, b"\x82"),
           http2.STREAM_CLOSED),
    _error("DATA past the connection window (messages not yet taken by the gRPC layer)",
           _streams_of_whole_messages(range(1, 12, 2), http2.RECEIVE_WINDOW // 16384 - 1),
           http2.FLOW_CONTROL_ERROR),
    _error("a table size update after a field", frame(HEADERS, END_HEADERS, 1, b"\x82\x3f\xe1\x1f"),
           http2.COMPRESSION_ERROR),
    _error("a Huffman string over the header list limit", frame(HEADERS, 0, 1, b"\x00\xff"
           + _hpack_int(64 * 1024 + 1 - 127)) + frame(CONTINUATION, END_HEADERS, 1, b"\xff" * 100),
           http2.COMPRESSION_ERROR),
    _error("PING of 7 bytes", frame(PING, 0, 0, b"1234567"), http2.FRAME_SIZE_ERROR),
    _error("PING on a stream", frame(PING, 0, 1, b"12345678"), http2.PROTOCOL_ERROR),
    _error("SETTINGS of 5 bytes", frame(SETTINGS, 0, 0, b"\x00" * 5), http2.FRAME_SIZE_ERROR),
    _error("SETTINGS ACK with a payload", frame(SETTINGS, http2.ACK, 0, setting(1, 1)),
           http2.FRAME_SIZE_ERROR),
    _error("SETTINGS on a stream", frame(SETTINGS, 0, 1), http2.PROTOCOL_ERROR),
    _error("INITIAL_WINDOW_SIZE 2^31",
           frame(SETTINGS, 0, 0, setting(http2.INITIAL_WINDOW_SIZE, 1 << 31)),
           http2.FLOW_CONTROL_ERROR),
    _error("MAX_FRAME_SIZE 16383", frame(SETTINGS, 0, 0, setting(http2.MAX_FRAME_SIZE, 16383)),
           http2.PROTOCOL_ERROR),
    _error("ENABLE_PUSH 2", frame(SETTINGS, 0, 0, setting(http2.ENABLE_PUSH, 2)),
           http2.PROTOCOL_ERROR),
    _error("WINDOW_UPDATE of 0", frame(WINDOW_UPDATE, 0, 0, u32s(0)), http2.PROTOCOL_ERROR),
    _error("WINDOW_UPDATE of 3 bytes", frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"),
           http2.FRAME_SIZE_ERROR),
    _error("connection window over 2^31-1", frame(WINDOW_UPDATE, 0, 0, u32s((1 << 31) - 1)),
           http2.FLOW_CONTROL_ERROR),
    _error("PUSH_PROMISE", frame(http2.PUSH_PROMISE, END_HEADERS, 1, u32s(2)),
           http2.PROTOCOL_ERROR),
    _error("padding longer than the DATA", frame(HEADERS, END_HEADERS, 1, _block())
           + frame(DATA, PADDED, 1, b"\x05abc"), http2.PROTOCOL_ERROR),
    _error("HEADERS after END_STREAM", frame(HEADERS, END_HEADERS | END_STREAM, 1, _block())
           + frame(HEADERS, END_HEADERS, 1, b"\x88"), http2.STREAM_CLOSED),
    _error("PRIORITY on stream 0", frame(http2.PRIORITY, 0, 0, b"\x00" * 5),
           http2.PROTOCOL_ERROR),
    _error("RST_STREAM of 3 bytes", frame(RST_STREAM, 0, 1, b"\x00\x00\x08"),
           http2.FRAME_SIZE_ERROR),
    _error("PRIORITY of 4 bytes", frame(http2.PRIORITY, 0, 1, b"\x00" * 4),
           http2.FRAME_SIZE_ERROR),
    _error("GOAWAY on a stream", frame(GOAWAY, 0, 1, u32s(0, 0)), http2.PROTOCOL_ERROR),
    _error("RST_STREAM on an idle stream", frame(RST_STREAM, 0, 9, u32s(8)),
           http2.PROTOCOL_ERROR),
]


@pytest.mark.parametrize("name, wire, code", CONNECTION_ERRORS)
def test_connection_errors(name: str, wire: bytes, code: int) -> None:
    server = opened()
    server.receive(wire)
    assert server.closed
    last = frames(server.out)[-1]
    assert last[:3] == (GOAWAY, 0, 0) and last[3][:8] == u32s(server.last_stream, code), name


def test_stream_window_over_the_maximum() -> None:
    server = opened()
    server.receive(RawClient().headers(1))
    server.receive(frame(WINDOW_UPDATE, 0, 1, u32s((1 << 31) - 1)))
    sent = frames(server.out)
    assert ((RST_STREAM, 0, 1, u32s(http2.FLOW_CONTROL_ERROR)) in sent
            or (server.closed and sent[-1][3][4:8] == u32s(http2.FLOW_CONTROL_ERROR)))


# -- limits, flow control, floods, RFC 9113 8.2-8.3 (issue 32) --------------------------------

class FakeBudget:
    """budget.Budget's interface with a fixed limit."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def fits(self, size: int) -> bool:
        return self.used + size <= self.limit

    def add(self, delta: int) -> None:
        self.used += delta


def window_updates(server: http2.Connection, stream_id: int) -> int:
    """The increments of the WINDOW_UPDATEs in ``server.out`` for ``stream_id`` (taken)."""
    return sum(struct.unpack(">I", payload)[0] for kind, _, sid, payload in frames(take(server.out))
               if kind == WINDOW_UPDATE and sid == stream_id)


def test_a_too_large_frame_is_refused_before_its_payload_arrives() -> None:
    server = opened()
    server.receive(http2.FRAME_HEAD.pack((http2.MAX_FRAME + 1) << 8 | DATA, 0, 1)[:9])
    assert server.closed and len(server.inbuf) == 0
    assert frames(server.out)[-1][3][4:8] == u32s(http2.FRAME_SIZE_ERROR)


def test_partial_frames_are_held_linearly() -> None:
    server = opened()
    wire = RawClient().headers(1) + frame(DATA, 0, 1, grpc(b"x" * 16000))
    for byte in range(len(wire)):  # one byte at a time: never more than a frame held
        server.receive(wire[byte:byte + 1])
        assert len(server.inbuf) <= http2.MAX_FRAME + 9
    assert server.streams[1].buf == b"" and not server.closed


def test_whole_messages_are_granted_back_when_released() -> None:
    server = opened()
    raw = RawClient()
    message = grpc(b"m" * 16000)
    count = http2.RECEIVE_WINDOW // 2 // len(message) + 1
    server.receive(raw.headers(1) + frame(DATA, 0, 1, message) * count)
    assert window_updates(server, 0) == 0 and window_updates(server, 1) == 0  # not taken yet
    stream = server.streams[1]
    assert stream.owed == count * len(message)
    server.release(stream)
    assert window_updates(server, 1) == count * len(message)
    assert stream.owed == 0 and stream.recv_window == http2.RECEIVE_WINDOW


def test_partial_messages_are_granted_back_as_they_are_buffered() -> None:
    server = opened()
    head = struct.pack(">BI", 0, 1 << 20)
    server.receive(RawClient().headers(1) + frame(DATA, 0, 1, head)
                   + frame(DATA, 0, 1, b"p" * 16000) * 200)
    assert window_updates(server, 1) > 0 and server.streams[1].owed == 0


def test_data_past_a_stream_window_is_a_stream_error() -> None:
    server = opened()
    raw = RawClient()
    message = grpc(b"m" * 16000)
    count = http2.RECEIVE_WINDOW // len(message) + 1
    events = server.receive(raw.headers(1) + frame(DATA, 0, 1, message) * count)
    assert (RST_STREAM, 0, 1, u32s(http2.FLOW_CONTROL_ERROR)) in frames(server.out)
    assert brief(events)[-1] == (RESET, 1, http2.FLOW_CONTROL_ERROR) and not server.closed


def test_partial_messages_past_the_budget_refuse_the_stream() -> None:
    budget = FakeBudget(100000)
    server = http2.Connection(1 << 20, budget)
    server.receive(http2.PREFACE + frame(SETTINGS, 0, 0))
    server.account()
    raw = RawClient()
    events = server.receive(raw.headers(1) + frame(DATA, 0, 1, struct.pack(">BI", 0, 500000))
                            + frame(DATA, 0, 1, b"p" * 16000) * 10)
    assert brief(events) == [(STARTED, 1, None), (OVERSIZE, 1, -1)]
    server.account()
    assert budget.used == server.held() < budget.limit
    server.fail(http2.NO_ERROR, "")
    server.uncharge()
    assert budget.used == 0


@pytest.mark.parametrize("flood, rate", [
    (frame(PING, 0, 0, b"12345678"), http2.PING_RATE),
    (frame(SETTINGS, 0, 0), http2.SETTINGS_RATE),
])
def test_ping_and_settings_floods_end_with_enhance_your_calm(flood: bytes, rate: Any) -> None:
    server = opened()
    server.receive(flood * (rate[0] + 50))
    assert server.closed
    assert frames(server.out)[-1][3][4:8] == u32s(http2.ENHANCE_YOUR_CALM)


def test_rapid_reset_ends_with_enhance_your_calm() -> None:
    server = opened()
    raw = RawClient()
    wire = b"".join(raw.headers(stream_id) + frame(RST_STREAM, 0, stream_id, u32s(8))
                    for stream_id in range(1, 2 * http2.RESET_RATE[0] + 100, 2))
    events = server.receive(wire)
    assert server.closed and frames(server.out)[-1][3][4:8] == u32s(http2.ENHANCE_YOUR_CALM)
    # no call may run (but the one whose reset tripped the limit: the connection is closed)
    assert sum(not stream.answered for _, stream, _ in events) <= 1


def _fields_without(name: str) -> List[Tuple[str, str]]:
    return [(key, value) for key, value in REQUEST if key != name]


MALFORMED = [
    ("uppercase", REQUEST + [("X-A", "1")]),
    ("connection", REQUEST + [("connection", "close")]),
    ("keep-alive", REQUEST + [("keep-alive", "1")]),
    ("upgrade", REQUEST + [("upgrade", "h2c")]),
    ("te gzip", _fields_without("te") + [("te", "gzip")]),
    ("two :method", REQUEST + [(":method", "POST")]),
    ("no :scheme", _fields_without(":scheme")),
    ("empty :path", _fields_without(":path") + [(":path", "")]),
    ("pseudo after regular", _fields_without(":authority") + [(":authority", "x")]),
    (":status in a request", REQUEST + [(":status", "200")]),
    ("NUL in a value", REQUEST + [("x-a", "a\x00b")]),
    ("bad content-length", REQUEST + [("content-length", "x")]),
]


@pytest.mark.parametrize("name, fields", MALFORMED, ids=[row[0] for row in MALFORMED])
def test_malformed_requests_are_stream_errors(name: str, fields: List[Tuple[str, str]]) -> None:
    server = opened()
    raw = RawClient()
    assert server.receive(frame(HEADERS, END_HEADERS, 1, raw.block(fields))) == []
    assert frames(take(server.out)) == [(RST_STREAM, 0, 1, u32s(http2.PROTOCOL_ERROR))]
    events = server.receive(frame(HEADERS, END_HEADERS | END_STREAM, 3, raw.block()))
    assert brief(events) == [(STARTED, 3, None), (ENDED, 3, False)] and not server.closed


@pytest.mark.parametrize("sent", [0, 4, 6])
def test_content_length_must_match_the_data(sent: int) -> None:
    server = opened()
    raw = RawClient()
    block = raw.block(REQUEST + [("content-length", "5")])
    events = server.receive(frame(HEADERS, END_HEADERS, 1, block)
                            + frame(DATA, END_STREAM, 1, b"x" * sent))
    assert brief(events) == [(STARTED, 1, None), (RESET, 1, http2.PROTOCOL_ERROR)]
    events = server.receive(frame(HEADERS, END_HEADERS, 3, block) + frame(DATA, END_STREAM, 3,
                                                                              grpc(b"")))
    assert brief(events)[-1] == (ENDED, 3, False)


def test_request_heads_seen_valid_are_remembered_and_a_bad_one_is_still_refused() -> None:
    # Clients repeat one head on every call: the second is one lookup, not a check of each
    # field. The memory is bounded, and a malformed head is never taken for a remembered one.
    server = opened()
    raw = RawClient()
    for number in range(70):
        head = REQUEST + [("x-call", str(number % 66))]
        events = server.receive(frame(HEADERS, END_HEADERS | END_STREAM, 2 * number + 1,
                                      raw.block(head)))
        assert brief(events) == [(STARTED, 2 * number + 1, None), (ENDED, 2 * number + 1, False)]
        server.release(events[0][1])
        server.streams.pop(2 * number + 1)
    assert len(server.valid_heads) == 64
    assert server.valid_heads[tuple(REQUEST + [("x-call", "0")])] == -1
    for stream_id, fields in ((141, REQUEST + [("x-call", "1"), ("connection", "close")]),
                              (143, REQUEST + [("x-call", "1"), ("content-length", "x")])):
        assert server.receive(frame(HEADERS, END_HEADERS, stream_id, raw.block(fields))) == []
        assert frames(take(server.out)) == [(RST_STREAM, 0, stream_id,
                                             u32s(http2.PROTOCOL_ERROR))]
    assert len(server.valid_heads) == 64 and not server.closed


def test_trailers_without_end_stream_are_a_stream_error() -> None:
    server = opened()
    raw = RawClient()
    events = server.receive(raw.headers(1) + frame(HEADERS, END_HEADERS, 1,
                                                   raw.block([("x-t", "1")])))
    assert brief(events) == [(STARTED, 1, None), (RESET, 1, http2.PROTOCOL_ERROR)]


def test_data_on_a_half_closed_stream_is_a_stream_error() -> None:
    server = opened()
    events = server.receive(RawClient().headers(1, END_HEADERS | END_STREAM)
                            + frame(DATA, 0, 1, b"x"))
    assert brief(events) == [(STARTED, 1, None), (ENDED, 1, False),
                             (RESET, 1, http2.STREAM_CLOSED)]


def test_window_update_of_zero_on_a_stream_is_a_stream_error() -> None:
    server = opened()
    server.receive(RawClient().headers(1) + frame(WINDOW_UPDATE, 0, 1, u32s(0)))
    assert frames(server.out)[-1] == (RST_STREAM, 0, 1, u32s(http2.PROTOCOL_ERROR))
    assert not server.closed


# -- 16. properties ---------------------------------------------------------------------------

OPENING = http2.PREFACE + frame(SETTINGS, 0, 0, setting(http2.INITIAL_WINDOW_SIZE, 100))

FRAMES = st.builds(
    lambda kind, flags, sid, payload: frame(kind, flags, sid, payload),
    st.integers(0, 11), st.integers(0, 255), st.sampled_from([0, 1, 2, 3, 5, (1 << 31) - 1]),
    st.one_of(st.binary(max_size=40), st.just(RawClient().block()),
              st.builds(grpc, st.binary(max_size=20)), st.binary(min_size=8, max_size=8)))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.binary(max_size=200), st.lists(FRAMES, max_size=12).map(b"".join)),
       st.integers(1, 64))
# found by this test: a stream started, then a connection error in the same bytes; the answer
# to the stream must not follow the GOAWAY
@example(data=frame(HEADERS, END_HEADERS, 1) + frame(DATA, 0, 0), chunk=18)
def test_arbitrary_bytes_never_raise(data: bytes, chunk: int) -> None:
    server = http2.Connection(64)
    server.receive(OPENING)
    for offset in range(0, len(data), chunk):
        for kind, stream, _ in server.receive(data[offset:offset + chunk]):
            assert kind in (STARTED, MESSAGE, ENDED, RESET, OVERSIZE)
            if kind == STARTED:  # answers exercise the send side's flow control
                server.send_headers(stream, HEAD)
                server.send_message(stream, pattern(300))
            elif kind == ENDED:
                server.finish(stream, TRAILERS_OK)
        if server.closed:
            break
    if server.closed:
        last = frames(server.out)[-1]
        assert last[0] == GOAWAY and last[3][4:8] != u32s(0)
    else:
        frames(server.out)  # whole frames only
        assert server.buffered == sum(len(stream.buf) for stream in server.streams.values())


HEADER_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1,
                       max_size=12).filter(  # (RFC 9113 8.2.2 forbids these in requests)
    lambda name: name not in http2.CONNECTION_FIELDS | {"te", "content-length"})
HEADER_VALUES = st.text(alphabet=[chr(code) for code in range(0x20, 0x7F)], max_size=300)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(
    st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES, st.booleans()), max_size=8),
    st.one_of(st.none(), st.integers(0, 4096)), st.booleans()), min_size=1, max_size=6))
def test_request_headers_survive_hpack_indexing(
        requests: List[Tuple[List[Tuple[str, str, bool]], Optional[int], bool]]) -> None:
    """Requests on one connection, HPACK-coded with indexing, eviction, table size updates,
    never-indexed fields and Huffman codes, give their STARTED events the same fields."""
    server = opened()
    encoder = hpack.Encoder()
    for index, (extra, table_size, huffman) in enumerate(requests):
        if table_size is not None:
            encoder.header_table_size = table_size
        fields = REQUEST + [(name, value) for name, value, _ in extra]
        coded = REQUEST + [hpack.NeverIndexedHeaderTuple(name, value) if never else (name, value)
                           for name, value, never in extra]
        stream_id = 2 * index + 1
        events = server.receive(frame(HEADERS, END_HEADERS | END_STREAM, stream_id,
                                      encoder.encode(coded, huffman=huffman)))
        assert brief(events) == [(STARTED, stream_id, None), (ENDED, stream_id, False)]
        assert events[0][1].headers == fields


def _request_wire() -> Tuple[bytes, List[Brief]]:
    """Two interleaved streams with messages across frames and padding, as h2 sends them."""
    client = h2.connection.H2Connection(config=h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    client.initiate_connection()
    one = grpc(pattern(900, seed=8)) + grpc(b"", 1) + grpc(b"tail")
    three = grpc(pattern(40, seed=9), 1)
    client.send_headers(1, REQUEST)
    client.send_headers(3, REQUEST + [("x-id", "three")])
    client.send_data(1, one[:10], pad_length=3)
    client.send_data(3, three[:30])
    client.send_data(1, one[10:600])
    client.send_data(3, three[30:], end_stream=True)
    client.send_data(1, one[600:], pad_length=0, end_stream=True)
    return client.data_to_send(), [
        (STARTED, 1, None), (STARTED, 3, None), (MESSAGE, 3, (1, pattern(40, seed=9))),
        (ENDED, 3, False), (MESSAGE, 1, (0, pattern(900, seed=8))), (MESSAGE, 1, (1, b"")),
        (MESSAGE, 1, (0, b"tail")), (ENDED, 1, False)]


REQUEST_WIRE, REQUEST_EVENTS = _request_wire()


def test_request_wire_in_one_go() -> None:
    assert brief(http2.Connection(1 << 20).receive(REQUEST_WIRE)) == REQUEST_EVENTS


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(REQUEST_WIRE)), max_size=40))
def test_any_split_of_a_request_gives_the_same_events(cuts: List[int]) -> None:
    server = http2.Connection(1 << 20)
    events: List[Brief] = []
    bounds = [0] + sorted(cuts) + [len(REQUEST_WIRE)]
    for start, end in zip(bounds, bounds[1:]):
        events += brief(server.receive(REQUEST_WIRE[start:end]))
    assert events == REQUEST_EVENTS
    assert not server.closed and not server.inbuf
