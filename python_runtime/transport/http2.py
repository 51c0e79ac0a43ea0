"""HTTP/2 as gRPC uses it, server side: bytes in, events out, bytes to send. No sockets here.

What gRPC needs of RFC 9113 and nothing more: the connection preface, SETTINGS, PING,
GOAWAY, RST_STREAM, flow control both ways, HEADERS with CONTINUATION and padding, and
DATA split into gRPC's length-prefixed messages (``(compressed flag, bytes)`` events, so a
streaming call sees each message as it arrives). There is no server push and priorities are
ignored. Header blocks are HPACK-coded both ways by ``header_codec``.

Every limit is checked before the work it bounds: a frame's length from its 9-byte header
(before its payload is buffered), a header block's size and frame count as its frames
arrive (before HPACK decoding), the peer's DATA against the windows this side granted.
Window is granted back as bytes are consumed: partial messages as they are buffered (they
count against the worker's memory ``budget``), whole messages when the gRPC layer has taken
them (``release``). Floods of resets, PINGs and SETTINGS end the connection with GOAWAY
ENHANCE_YOUR_CALM.
"""

import struct
import time
from collections import deque
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple  # noqa: F401 (type comments)

from .header_codec import Decoder, HeaderError, header_block  # noqa: F401 (header_block: API)
from .request_fields import CONNECTION_FIELDS, header_pairs  # noqa: F401 (API)
from .request_fields import request_error, trailers_ok

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEAD = struct.Struct(">IBI")  # length << 8 | type, flags, stream id
_U32 = struct.Struct(">I")
_U32_PAIR = struct.Struct(">II")
_SETTING = struct.Struct(">HI")
_MESSAGE_HEAD = struct.Struct(">BI")  # gRPC: compressed flag, length

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20

# error codes
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0, 1, 2, 3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR = 5, 6, 7, 8, 9
ENHANCE_YOUR_CALM = 11

# settings
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, \
    MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = range(1, 7)

DEFAULT_WINDOW = 65535
DEFAULT_TABLE_SIZE = 4096
MAX_WINDOW = (1 << 31) - 1
RECEIVE_WINDOW = 4 << 20          # what this side lets a peer send ahead on a stream
CONNECTION_WINDOW = 16 << 20      # and on the connection, over all its streams
MAX_FRAME = 65536                 # the largest frame this side accepts: a [1000,4] FP64
                                  # request (32 KB) in one DATA frame, not three (fewer
                                  # copies); a partial frame counts in the memory budget
MAX_HEADER_BLOCK = 64 * 1024      # a request's header block, CONTINUATIONs included
MAX_BLOCK_FRAMES = 32             # frames in one header block (4 carry 64 KiB at 16 KiB)
MAX_STREAMS = 256                 # open streams per connection
RECENT_RESETS = 1024              # streams this side reset whose late frames are ignored
# floods: (burst, per second) of what a peer may send before GOAWAY ENHANCE_YOUR_CALM
RESET_RATE = (200, 100.0)         # RST_STREAM (CVE-2023-44487, rapid reset)
PING_RATE = (200, 100.0)          # PING
SETTINGS_RATE = (200, 100.0)      # SETTINGS

# events of Connection.receive
STARTED, MESSAGE, ENDED, RESET, OVERSIZE = range(5)
Event = Tuple[int, "Stream", Any]


class ProtocolError(Exception):
    """The peer broke HTTP/2: the connection ends with GOAWAY(``code``)."""

    def __init__(self, code: int, message: str) -> None:
        super(ProtocolError, self).__init__(message)
        self.code = code


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return FRAME_HEAD.pack(len(payload) << 8 | kind, flags, stream_id) + payload


class _Rate(object):
    """A token bucket: ``burst`` at once, ``per_second`` sustained."""

    __slots__ = ("burst", "per_second", "tokens", "at")

    def __init__(self, limits: Tuple[int, float]) -> None:
        self.burst, self.per_second = limits
        self.tokens = float(self.burst)
        self.at = time.monotonic()

    def spend(self) -> bool:
        """Take a token; False when none is left (a flood)."""
        if self.tokens < 1:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
            self.at = now
            if self.tokens < 1:
                return False
        self.tokens -= 1
        return True


class Stream(object):
    """One request: its headers, its unparsed bytes, and what is still to be sent."""

    __slots__ = ("id", "headers", "buf", "ended", "answered", "send_window", "pending",
                 "trailers", "discard", "unacked", "refused", "call", "recv_window", "owed",
                 "length", "received")

    def __init__(self, stream_id: int, send_window: int, recv_window: int) -> None:
        self.id = stream_id
        self.headers = []  # type: List[Tuple[str, str]]
        self.buf = bytearray()     # DATA not yet a whole gRPC message
        self.ended = False         # the peer has sent END_STREAM
        self.answered = False      # this side has sent its trailers (or a reset)
        self.send_window = send_window
        self.pending = bytearray()  # DATA waiting for flow-control window
        self.trailers = None  # type: Optional[bytes]  (sent once ``pending`` is out)
        self.discard = False       # refused (too large) or not gRPC: its further DATA is dropped
        self.unacked = 0           # bytes consumed since this stream's last WINDOW_UPDATE
        self.refused = False       # refused at its HEADERS (REFUSED_STREAM)
        self.call = None  # type: Any  (the gRPC layer's state)
        self.recv_window = recv_window  # what the peer may still send on this stream
        self.owed = 0              # bytes of whole messages not yet released (window owed)
        self.length = -1           # the request's content-length, if it sent one
        self.received = 0          # DATA payload bytes received (content-length check)

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers:
            if key == name:
                return value
        return None


class Connection(object):
    """The server side of one HTTP/2 connection. Feed ``receive()``, send ``out``.

    ``budget`` (``budget.Budget``, optional) is the worker's memory budget: partial messages
    that do not fit refuse their stream (OVERSIZE -1); ``account(extra)`` charges it with
    what this connection holds."""

    def __init__(self, max_message: int, budget: Any = None) -> None:
        self.max_message = max_message
        self.budget = budget
        self.charged = 0      # bytes this connection has counted in ``budget``
        self.out = bytearray()
        self.inbuf = bytearray()  # an incomplete frame (at most MAX_FRAME + 9 bytes)
        self.preface_seen = False
        self.decoder = Decoder(max_list_size=MAX_HEADER_BLOCK)
        self.streams = {}  # type: Dict[int, Stream]
        self.last_stream = 0
        self.peer_window = DEFAULT_WINDOW          # connection-level window for sending
        self.peer_initial_window = DEFAULT_WINDOW  # for new streams
        self.peer_max_frame = 16384
        self.recv_window = CONNECTION_WINDOW  # what the peer may still send on the connection
        self.unacked_in = 0   # bytes consumed on the connection since the last WINDOW_UPDATE
        self.buffered = 0     # bytes of partial messages held, over all streams
        self.pending_out = 0  # bytes of answers waiting for the peer's window
        # partial messages beyond this refuse the stream that adds to them (memory bound)
        self.max_buffered = max(64 << 20, 2 * max_message)
        self.continuing = None  # type: Optional[Tuple[Stream, int, bytearray]]
        self.block_frames = 0   # frames of the header block in ``continuing``
        self.table_update = b""  # an HPACK table size update owed to the peer's decoder
        self.going_away = False  # GOAWAY sent: no new streams
        self.closed = False      # a connection error: flush ``out``, then close
        self.reset_ids = set()  # type: Set[int]  (streams this side reset: frames ignored)
        self.reset_order = deque()  # type: Any
        self.valid_fields = set()  # type: Set[Tuple[str, str]]  (header fields seen valid)
        # whole request heads seen valid -> their content-length (a client repeats its head on
        # every call: one dict lookup instead of a check of each field)
        self.valid_heads = {}  # type: Dict[Tuple[Tuple[str, str], ...], int]
        self.resets = _Rate(RESET_RATE)
        self.pings = _Rate(PING_RATE)
        self.settings_rate = _Rate(SETTINGS_RATE)
        self.out += frame(SETTINGS, 0, 0, b"".join((
            _SETTING.pack(MAX_CONCURRENT_STREAMS, MAX_STREAMS),
            _SETTING.pack(INITIAL_WINDOW_SIZE, RECEIVE_WINDOW),
            _SETTING.pack(MAX_FRAME_SIZE, MAX_FRAME),
            _SETTING.pack(MAX_HEADER_LIST_SIZE, MAX_HEADER_BLOCK))))
        self.out += frame(WINDOW_UPDATE, 0, 0, _U32.pack(CONNECTION_WINDOW - DEFAULT_WINDOW))

    # -- memory -------------------------------------------------------------------------

    def held(self) -> int:
        """Bytes this connection holds: input not yet a frame, header blocks and partial
        messages being assembled, answers not yet sent."""
        block = self.continuing[2] if self.continuing is not None else b""
        return len(self.inbuf) + len(block) + self.buffered + len(self.out) + self.pending_out

    def account(self, extra: int = 0) -> None:
        """Bring the budget up to date with ``held()`` plus ``extra`` (the gRPC layer's)."""
        if self.budget is not None:
            if self.closed and not self.out:
                now = 0
            else:  # held(), inline: this runs after every read and write
                block = self.continuing
                now = (len(self.inbuf) + (len(block[2]) if block is not None else 0)
                       + self.buffered + len(self.out) + self.pending_out + extra)
            if now != self.charged:
                self.budget.add(now - self.charged)
                self.charged = now

    def uncharge(self) -> None:
        """The connection is gone: give back all it counted."""
        if self.budget is not None and self.charged:
            self.budget.add(-self.charged)
            self.charged = 0

    # -- input --------------------------------------------------------------------------

    def receive(self, data: bytes) -> List[Event]:
        """The events in ``data`` (with what earlier calls left incomplete). A connection
        error queues GOAWAY and sets ``closed``; the events before it are still returned."""
        events = []  # type: List[Event]
        if self.closed:
            return events
        if self.inbuf:
            self.inbuf += data  # (at most one frame's worth is ever kept: no quadratic copy)
            buf = self.inbuf  # type: Any
        else:
            buf = data
        pos = 0
        view = None  # type: Any
        try:
            if not self.preface_seen:
                if len(buf) < len(PREFACE):
                    if not PREFACE.startswith(bytes(buf)):
                        raise ProtocolError(PROTOCOL_ERROR, "not an HTTP/2 connection preface")
                    self.inbuf = bytearray(buf)
                    return events
                if buf[:len(PREFACE)] != PREFACE:
                    raise ProtocolError(PROTOCOL_ERROR, "not an HTTP/2 connection preface")
                self.preface_seen = True
                pos = len(PREFACE)
            view = memoryview(buf)  # (frames are slices of it: no copy)
            end = len(buf)
            while end - pos >= 9 and not self.closed:
                head, flags, stream_id = FRAME_HEAD.unpack_from(buf, pos)
                length = head >> 8
                if length > MAX_FRAME:  # from the header alone: the payload is never held
                    raise ProtocolError(FRAME_SIZE_ERROR, "a frame of %d bytes, over "
                                        "SETTINGS_MAX_FRAME_SIZE %d" % (length, MAX_FRAME))
                if end - pos - 9 < length:
                    break
                start = pos + 9
                pos = start + length
                self._frame(head & 0xFF, flags, stream_id & 0x7FFFFFFF, view[start:pos], events)
        except ProtocolError as exc:
            self.fail(exc.code, str(exc))
            pos = len(buf)
        finally:
            if view is not None:
                view.release()
        if self.closed:
            self.inbuf = bytearray()
            return events
        if pos < len(buf):
            if buf is self.inbuf:
                del self.inbuf[:pos]
            else:
                self.inbuf = bytearray(buf[pos:])
        elif self.inbuf:
            self.inbuf = bytearray()
        return events

    def _frame(self, kind: int, flags: int, stream_id: int, payload: Any,
               events: List[Event]) -> None:
        if self.continuing is not None and kind != CONTINUATION:
            raise ProtocolError(PROTOCOL_ERROR, "a header block was interrupted")
        if kind == DATA:
            self._data(flags, stream_id, payload, events)
        elif kind == HEADERS:
            self._headers(flags, stream_id, payload, events)
        elif kind == CONTINUATION:
            self._continuation(flags, stream_id, payload, events)
        elif kind == SETTINGS:
            self._settings(flags, stream_id, payload)
        elif kind == WINDOW_UPDATE:
            self._window_update(stream_id, payload, events)
        elif kind == PING:
            if stream_id or len(payload) != 8:
                raise ProtocolError(FRAME_SIZE_ERROR if stream_id == 0 else PROTOCOL_ERROR,
                                    "malformed PING")
            if not flags & ACK:
                if not self.pings.spend():
                    raise ProtocolError(ENHANCE_YOUR_CALM, "too many PINGs")
                self.out += frame(PING, ACK, 0, bytes(payload))
        elif kind == RST_STREAM:
            self._rst_stream(stream_id, payload, events)
        elif kind == GOAWAY:
            if stream_id:
                raise ProtocolError(PROTOCOL_ERROR, "GOAWAY on a stream")
            self.going_away = True  # the peer opens no more streams; the open ones finish
        elif kind == PRIORITY:
            if stream_id == 0:
                raise ProtocolError(PROTOCOL_ERROR, "PRIORITY on stream 0")
            if len(payload) != 5:
                raise ProtocolError(FRAME_SIZE_ERROR, "PRIORITY of %d bytes" % len(payload))
            if _U32.unpack_from(payload, 0)[0] & 0x7FFFFFFF == stream_id:
                self._stream_error(stream_id, PROTOCOL_ERROR, events)
        elif kind == PUSH_PROMISE:
            raise ProtocolError(PROTOCOL_ERROR, "a client cannot push")
        # other frame types are extensions: ignored, as the RFC says

    @staticmethod
    def _unpad(flags: int, payload: Any) -> Any:
        if not flags & PADDED:
            return payload
        if not payload or payload[0] >= len(payload):
            raise ProtocolError(PROTOCOL_ERROR, "padding longer than the frame")
        return payload[1:len(payload) - payload[0]]

    def _closed_stream(self, stream_id: int, what: str) -> None:
        """A frame that may not come on a stream that is not open: ignored on streams this
        side reset (it may have been on its way), else a connection error."""
        if stream_id > self.last_stream:
            raise ProtocolError(PROTOCOL_ERROR, "%s on idle stream %d" % (what, stream_id))
        if stream_id not in self.reset_ids:
            raise ProtocolError(STREAM_CLOSED, "%s on closed stream %d" % (what, stream_id))

    def _data(self, flags: int, stream_id: int, payload: Any, events: List[Event]) -> None:
        if stream_id == 0:
            raise ProtocolError(PROTOCOL_ERROR, "DATA on stream 0")
        size = len(payload)
        if size > self.recv_window:
            raise ProtocolError(FLOW_CONTROL_ERROR, "DATA past the connection's window")
        self.recv_window -= size
        stream = self.streams.get(stream_id)
        if stream is None:
            self._closed_stream(stream_id, "DATA")
            self._consumed(None, size)  # a stream already answered or reset: dropped
            return
        if stream.ended:
            self._consumed(None, size)
            self._stream_error(stream_id, STREAM_CLOSED, events)
            return
        if size > stream.recv_window:
            self._consumed(None, size)
            self._stream_error(stream_id, FLOW_CONTROL_ERROR, events)
            return
        stream.recv_window -= size
        payload = self._unpad(flags, payload)
        stream.received += len(payload)
        if stream.length >= 0 and (stream.received > stream.length or (
                flags & END_STREAM and stream.received != stream.length)):
            self._consumed(None, size)
            self._stream_error(stream_id, PROTOCOL_ERROR, events)
            return
        owed = 0
        if not stream.discard:
            buf = stream.buf
            before = len(buf)
            if before:
                buf += payload
                used = self._messages(stream, buf, events)
                if not stream.discard:
                    del buf[:used]
            elif payload:
                used = self._messages(stream, payload, events)
                if used < len(payload) and not stream.discard:
                    stream.buf = bytearray(payload[used:])
            else:
                used = 0
            after = len(stream.buf)
            self.buffered += after - before
            if after > before and not stream.discard and (
                    self.buffered > self.max_buffered or (
                        self.budget is not None
                        and not self.budget.fits(self.held() - self.charged))):
                self.buffered -= after
                self._refuse(stream, -1, events)
            if used and not stream.discard:
                # the whole messages' bytes from this frame: granted back on ``release``
                owed = min(used - before, len(payload)) if used > before else 0
                stream.owed += owed
        if size > owed:
            self._consumed(stream, size - owed)
        if flags & END_STREAM:
            self._end(stream, events)

    def _consumed(self, stream: Optional[Stream], size: int) -> None:
        """``size`` bytes of DATA are dealt with: window back to the peer (in batches)."""
        if size <= 0:
            return
        self.unacked_in += size
        if self.unacked_in >= CONNECTION_WINDOW // 2:
            self.out += frame(WINDOW_UPDATE, 0, 0, _U32.pack(self.unacked_in))
            self.recv_window += self.unacked_in
            self.unacked_in = 0
        if stream is not None and not stream.ended and not stream.answered:
            stream.unacked += size
            if stream.unacked >= RECEIVE_WINDOW // 2:
                self.out += frame(WINDOW_UPDATE, 0, stream.id, _U32.pack(stream.unacked))
                stream.recv_window += stream.unacked
                stream.unacked = 0

    def release(self, stream: Stream) -> None:
        """The gRPC layer has taken ``stream``'s messages: their window goes back."""
        owed, stream.owed = stream.owed, 0
        if owed:
            self._consumed(stream if stream.id in self.streams else None, owed)

    def _messages(self, stream: Stream, buf: Any, events: List[Event]) -> int:
        """Whole gRPC messages out of ``buf``: how many of its bytes they took."""
        pos, end = 0, len(buf)
        while end - pos >= 5:
            compressed, length = _MESSAGE_HEAD.unpack_from(buf, pos)
            if length > self.max_message:
                self._refuse(stream, length, events)
                return end
            if end - pos - 5 < length:
                break
            events.append((MESSAGE, stream, (compressed, bytes(buf[pos + 5:pos + 5 + length]))))
            pos += 5 + length
        return pos

    def _refuse(self, stream: Stream, size: int, events: List[Event]) -> None:
        """A message over the size limit (``size``), or too much partial data on the
        connection or in the worker (-1): the stream's further DATA is dropped, the gRPC
        layer answers."""
        stream.discard = True
        stream.buf = bytearray()  # (the caller counts it out of ``buffered``)
        events.append((OVERSIZE, stream, size))

    def _end(self, stream: Stream, events: List[Event]) -> None:
        stream.ended = True
        events.append((ENDED, stream, bool(stream.buf) and not stream.discard))

    def _rst_stream(self, stream_id: int, payload: Any, events: List[Event]) -> None:
        if len(payload) != 4:
            raise ProtocolError(FRAME_SIZE_ERROR, "RST_STREAM of %d bytes" % len(payload))
        if stream_id == 0 or stream_id > self.last_stream:
            raise ProtocolError(PROTOCOL_ERROR, "RST_STREAM on idle stream %d" % stream_id)
        if not self.resets.spend():
            raise ProtocolError(ENHANCE_YOUR_CALM, "too many streams reset")
        stream = self.streams.get(stream_id)
        if stream is not None:
            self._forget(stream)
            stream.answered = True
            events.append((RESET, stream, _U32.unpack(bytes(payload))[0]))
        elif stream_id in self.reset_ids:  # both sides reset it: later frames are errors
            self.reset_ids.discard(stream_id)

    def _stream_error(self, stream_id: int, code: int, events: List[Event]) -> None:
        """RST_STREAM(``code``); a started call hears of it as RESET."""
        self.out += frame(RST_STREAM, 0, stream_id, _U32.pack(code))
        self._remember_reset(stream_id)
        stream = self.streams.get(stream_id)
        if stream is not None:
            self._forget(stream)
            stream.answered = True
            if stream.headers:
                events.append((RESET, stream, code))

    def _remember_reset(self, stream_id: int) -> None:
        if stream_id not in self.reset_ids:
            self.reset_ids.add(stream_id)
            self.reset_order.append(stream_id)
            if len(self.reset_order) > RECENT_RESETS:
                self.reset_ids.discard(self.reset_order.popleft())

    def _headers(self, flags: int, stream_id: int, payload: Any, events: List[Event]) -> None:
        if stream_id == 0 or not stream_id & 1:
            raise ProtocolError(PROTOCOL_ERROR, "HEADERS on stream %d" % stream_id)
        payload = self._unpad(flags, payload)
        if flags & PRIORITY_FLAG:
            if len(payload) < 5:
                raise ProtocolError(FRAME_SIZE_ERROR, "HEADERS too short for its priority")
            if _U32.unpack_from(payload, 0)[0] & 0x7FFFFFFF == stream_id:
                raise ProtocolError(PROTOCOL_ERROR, "stream %d depends on itself" % stream_id)
            payload = payload[5:]
        stream = self.streams.get(stream_id)
        if stream is None:
            stream = Stream(stream_id, self.peer_initial_window, RECEIVE_WINDOW)
            if stream_id <= self.last_stream:
                if stream_id not in self.reset_ids:
                    # (the last stream was surely opened: it is closed; a lower id may
                    # never have been, and ids must increase)
                    raise ProtocolError(STREAM_CLOSED if stream_id == self.last_stream
                                        else PROTOCOL_ERROR,
                                        "HEADERS on stream %d, not above %d"
                                        % (stream_id, self.last_stream))
                # a stream this side has closed (answered early, reset or refused): the block
                # is decoded (HPACK state) and ignored, as frames on closed streams are
                stream.answered = True
            elif self.going_away or len(self.streams) >= MAX_STREAMS:
                self.last_stream = stream_id
                stream.answered = stream.refused = True  # refused once its block is decoded
            else:
                self.last_stream = stream_id
                self.streams[stream_id] = stream
        elif stream.ended:
            raise ProtocolError(STREAM_CLOSED, "HEADERS after the end of stream %d" % stream_id)
        if flags & END_HEADERS:
            self._headers_done(stream, flags, bytes(payload), events)
        else:
            self.continuing = (stream, flags, bytearray(payload))
            self.block_frames = 1

    def _continuation(self, flags: int, stream_id: int, payload: Any,
                      events: List[Event]) -> None:
        if self.continuing is None or self.continuing[0].id != stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "CONTINUATION out of place")
        stream, first_flags, block = self.continuing
        self.block_frames += 1
        if len(block) + len(payload) > MAX_HEADER_BLOCK:
            raise ProtocolError(ENHANCE_YOUR_CALM, "header block over %d bytes"
                                % MAX_HEADER_BLOCK)
        if self.block_frames > MAX_BLOCK_FRAMES:
            raise ProtocolError(ENHANCE_YOUR_CALM, "header block in over %d frames"
                                % MAX_BLOCK_FRAMES)
        block += payload
        if flags & END_HEADERS:
            self.continuing = None
            self._headers_done(stream, first_flags, bytes(block), events)

    def _decode_block(self, block: bytes) -> List[Tuple[str, str]]:
        try:
            return self.decoder.decode(block)
        except HeaderError as exc:
            raise ProtocolError(COMPRESSION_ERROR, "bad header block: %s" % exc) from None

    def _headers_done(self, stream: Stream, flags: int, block: bytes,
                      events: List[Event]) -> None:
        fields = self._decode_block(block)
        if stream.answered:
            if stream.refused:  # too many streams, or after GOAWAY
                self.out += frame(RST_STREAM, 0, stream.id, _U32.pack(REFUSED_STREAM))
                self._remember_reset(stream.id)
            return
        if not stream.headers:
            head = tuple(fields)
            length = self.valid_heads.get(head)
            if length is None:
                length = request_error(fields, self.valid_fields)
                if length is None:
                    self._stream_error(stream.id, PROTOCOL_ERROR, events)
                    return
                if len(self.valid_heads) < 64:
                    self.valid_heads[head] = length
            stream.length = length
            stream.headers = fields
            events.append((STARTED, stream, None))
        elif not flags & END_STREAM or not trailers_ok(fields):
            # trailers (gRPC clients send none) must end the stream and hold no pseudo-header
            self._stream_error(stream.id, PROTOCOL_ERROR, events)
            return
        if flags & END_STREAM:
            if stream.length >= 0 and stream.received != stream.length:
                self._stream_error(stream.id, PROTOCOL_ERROR, events)
                return
            self._end(stream, events)

    def _settings(self, flags: int, stream_id: int, payload: Any) -> None:
        if stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & ACK:
            if payload:
                raise ProtocolError(FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return
        if len(payload) % 6:
            raise ProtocolError(FRAME_SIZE_ERROR, "SETTINGS of %d bytes" % len(payload))
        if not self.settings_rate.spend():
            raise ProtocolError(ENHANCE_YOUR_CALM, "too many SETTINGS")
        for offset in range(0, len(payload), 6):
            key, value = _SETTING.unpack_from(payload, offset)
            if key == INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise ProtocolError(FLOW_CONTROL_ERROR, "initial window too large")
                delta = value - self.peer_initial_window
                self.peer_initial_window = value
                for stream in self.streams.values():
                    stream.send_window += delta
                    if stream.send_window > MAX_WINDOW:
                        raise ProtocolError(FLOW_CONTROL_ERROR, "a stream window over 2^31-1")
            elif key == MAX_FRAME_SIZE:
                if not 16384 <= value <= (1 << 24) - 1:
                    raise ProtocolError(PROTOCOL_ERROR, "MAX_FRAME_SIZE %d" % value)
                self.peer_max_frame = value
            elif key == ENABLE_PUSH and value > 1:
                raise ProtocolError(PROTOCOL_ERROR, "ENABLE_PUSH %d" % value)
            elif key == HEADER_TABLE_SIZE and value < DEFAULT_TABLE_SIZE:
                # the encoder must say it shrank its table (RFC 7541 4.2); it uses none
                self.table_update = b"\x20"
        self.out += frame(SETTINGS, ACK, 0)
        self._pump()

    def _window_update(self, stream_id: int, payload: Any, events: List[Event]) -> None:
        if len(payload) != 4:
            raise ProtocolError(FRAME_SIZE_ERROR, "WINDOW_UPDATE of %d bytes" % len(payload))
        increment = _U32.unpack(bytes(payload))[0] & 0x7FFFFFFF
        if stream_id == 0:
            if increment == 0:
                raise ProtocolError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            self.peer_window += increment
            if self.peer_window > MAX_WINDOW:
                raise ProtocolError(FLOW_CONTROL_ERROR, "window over 2^31-1")
        else:
            stream = self.streams.get(stream_id)
            if stream is None:
                if stream_id > self.last_stream:
                    raise ProtocolError(PROTOCOL_ERROR, "WINDOW_UPDATE on idle stream %d"
                                        % stream_id)
                return  # a closed stream: it may have been on its way
            if increment == 0:
                self._stream_error(stream_id, PROTOCOL_ERROR, events)
                return
            stream.send_window += increment
            if stream.send_window > MAX_WINDOW:
                self._stream_error(stream_id, FLOW_CONTROL_ERROR, events)
                return
        self._pump()

    # -- output -------------------------------------------------------------------------

    def send_headers(self, stream: Stream, block: bytes, end: bool = False) -> None:
        """A header block (split into CONTINUATIONs if needed); ``end``: trailers."""
        if stream.answered or self.closed:  # (after a connection error nothing more is sent)
            return
        flags = END_STREAM if end else 0
        if self.table_update:
            block, self.table_update = self.table_update + block, b""
        limit = self.peer_max_frame
        if len(block) <= limit:
            self.out += frame(HEADERS, flags | END_HEADERS, stream.id, block)
        else:
            self.out += frame(HEADERS, flags, stream.id, block[:limit])
            for offset in range(limit, len(block), limit):
                last = offset + limit >= len(block)
                self.out += frame(CONTINUATION, END_HEADERS if last else 0, stream.id,
                                  block[offset:offset + limit])
        if end:
            self._closed(stream)

    def send_message(self, stream: Stream, payload: bytes) -> None:
        """One gRPC message (uncompressed), as DATA as far as the windows allow."""
        if stream.answered or self.closed:
            return
        size = len(payload) + 5
        if not stream.pending and size <= min(stream.send_window, self.peer_window,
                                              self.peer_max_frame):
            # the usual case, one frame that fits the windows: written straight to ``out``
            self.out += FRAME_HEAD.pack(size << 8 | DATA, 0, stream.id)
            self.out += _MESSAGE_HEAD.pack(0, len(payload))
            self.out += payload
            stream.send_window -= size
            self.peer_window -= size
            return
        self.send_data(stream, _MESSAGE_HEAD.pack(0, len(payload)) + payload)

    def send_data(self, stream: Stream, data: bytes) -> None:
        """Bytes of the answer's body, as DATA as far as the windows allow."""
        if stream.answered or self.closed:
            return
        stream.pending += data
        self.pending_out += len(data)
        self._send_pending(stream)

    def finish(self, stream: Stream, trailers: bytes) -> None:
        """End the answer with ``trailers`` once its DATA is out."""
        if stream.answered or self.closed:
            return
        if stream.pending:
            stream.trailers = trailers
        else:
            self.send_headers(stream, trailers, end=True)

    def reset(self, stream: Stream, code: int) -> None:
        if not stream.answered and not self.closed:
            self.out += frame(RST_STREAM, 0, stream.id, _U32.pack(code))
            self._remember_reset(stream.id)
            stream.answered = True
            self._forget(stream)

    def announce_goaway(self) -> None:
        """Tell the peer to open no more streams, still taking those already on their way
        (GOAWAY with the largest stream id; ``goaway()`` a round trip later draws the line)."""
        if not self.going_away:
            self.out += frame(GOAWAY, 0, 0, _U32_PAIR.pack(MAX_WINDOW, NO_ERROR))

    def goaway(self, code: int = NO_ERROR, message: str = "") -> None:
        """No new streams (graceful: the open ones are still answered)."""
        if not self.going_away or code:
            self.out += frame(GOAWAY, 0, 0, _U32_PAIR.pack(self.last_stream, code)
                              + message.encode("utf-8")[:256])
        self.going_away = True

    def fail(self, code: int, message: str) -> None:
        self.goaway(code, message)
        self.closed = True

    @property
    def idle(self) -> bool:
        return not self.streams and self.continuing is None

    def _closed(self, stream: Stream) -> None:
        stream.answered = True
        self.pending_out -= len(stream.pending)
        stream.pending = bytearray()
        if not stream.ended:  # answered early: ask the peer to stop sending (RFC 9113 8.1)
            self.out += frame(RST_STREAM, 0, stream.id, _U32.pack(NO_ERROR))
            self._remember_reset(stream.id)
        self._forget(stream)

    def _forget(self, stream: Stream) -> None:
        if self.streams.pop(stream.id, None) is not None:
            self.buffered -= len(stream.buf)
            stream.buf = bytearray()
            self.pending_out -= len(stream.pending)
            stream.pending = bytearray()
            if stream.owed:
                self.release(stream)

    def _send_pending(self, stream: Stream) -> None:
        pending = stream.pending
        while pending:
            size = min(len(pending), stream.send_window, self.peer_window, self.peer_max_frame)
            if size <= 0:
                return
            self.out += FRAME_HEAD.pack(size << 8 | DATA, 0, stream.id)
            self.out += pending[:size]
            del pending[:size]
            self.pending_out -= size
            stream.send_window -= size
            self.peer_window -= size
        if stream.trailers is not None:
            trailers, stream.trailers = stream.trailers, None
            self.send_headers(stream, trailers, end=True)

    def _pump(self) -> None:
        for stream in list(self.streams.values()):
            if stream.pending and not stream.answered:
                self._send_pending(stream)
                if self.peer_window <= 0:
                    return
