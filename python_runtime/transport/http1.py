"""HTTP/1.1 requests read strictly from a connection's bytes (RFC 9112).

llhttp, the C parser Node.js and uvicorn use (through ``httptools``), frames the messages: it
refuses malformed request lines, lenient numbers (``+26``, ``2_6``, ``0x1a``), duplicate
``Content-Length``, CL with TE, bare CR/LF and NUL. This module adds what llhttp leaves to its
user, so that every version the pins install (llhttp 6 on Python 3.6 is more lenient than 9)
refuses the same requests: exactly one framing (``Transfer-Encoding`` must be exactly
``chunked``, and only on HTTP/1.1), token header names, no header name with ``_`` (it would
alias a ``-`` name in the WSGI environ), exactly one ``Host`` on HTTP/1.1, HTTP/1.0 or 1.1 only,
and a bound on the request head. Bodies are kept as a list of pieces and joined once, so a
body of many tiny chunks costs linear time.

``RequestReader`` holds one connection's parser. ``feed(data)`` parses what arrived and queues
every request that is complete; a request that must be refused before its body is read (too
large, no memory) is queued at once with ``refused`` set and ends the reading of the
connection. A framing error raises ``HttpError`` with the status to answer; the connection is
then answered and closed.
"""

import collections
import re
from typing import Callable, Deque, Dict, List, Optional, Tuple

import httptools

MAX_HEAD = 64 * 1024        # request line and headers
HEAD_SLICE = 8 * 1024       # bytes fed at a time while a head is incomplete (bounds its size)
IDLE, HEAD, BODY = 0, 1, 2  # where the parser is in the current request

# RFC 9110 token characters: what a header name may hold.
_TOKEN = (b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_SINGLE = ("CONTENT_LENGTH", "HTTP_HOST", "HTTP_TRANSFER_ENCODING")
_VERSIONS = ("1.1", "1.0")


class HttpError(Exception):
    """The bytes on a connection cannot be served: answer ``status`` and close."""

    def __init__(self, message: str, status: str = "400 Bad Request") -> None:
        super(HttpError, self).__init__(message)
        self.status = status


def _http2() -> HttpError:
    return HttpError("HTTP/2 is not served on this port: send HTTP/1.1 (gRPC has a port of "
                     "its own)", "505 HTTP Version Not Supported")


def _malformed_head() -> HttpError:
    return HttpError("malformed header block (a CR or LF where a header line should be)")


class _Stop(Exception):
    """Raised inside a parser callback: the current request is queued as it is and the
    parser reads nothing more (its body is refused unread)."""


class Request(object):
    """A request head, its body once complete, and what the connection must do after it."""

    __slots__ = ("method", "target", "version", "headers", "body", "keep_alive", "oversize",
                 "refused", "expect_continue", "size")

    def __init__(self) -> None:
        self.method = ""
        self.target = ""
        self.version = "1.1"
        self.headers = {}  # WSGI environ keys (HTTP_*, CONTENT_*) -> values
        self.body = b""
        self.keep_alive = True
        self.oversize = 0           # > 0: a body known to exceed the limit (the app says 413)
        self.refused = None  # (status, message) the app answers instead
        self.expect_continue = False
        self.size = 0               # bytes this request holds in memory (its body)


def _lenient(data: bytes) -> bool:
    """Whether the installed llhttp accepts ``data`` (a request it should refuse)."""
    class Sink(object):
        pass
    try:
        httptools.HttpRequestParser(Sink()).feed_data(data)
    except httptools.HttpParserError:
        return False
    return True


# Decided once: llhttp 9 refuses these itself, llhttp 6 (httptools 0.5 on Python 3.6) does not.
CHECK_NAMES = _lenient(b"GET / HTTP/1.1\r\nHost: a\r\nX Y: b\r\n\r\n")
CHECK_VALUES = _lenient(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n")
# llhttp 6 skips the two bytes after a chunk's data without looking at them: where it does,
# llhttp reads only request heads and this module frames the bodies itself.
OWN_BODIES = _lenient(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"2\r\n{}XX0\r\n\r\n")

_KEYS: Dict[bytes, Optional[str]] = {}  # header name -> environ key (None: dropped)
_METHODS: Dict[bytes, str] = {}


def environ_key(name: bytes) -> Optional[str]:
    """The WSGI environ key of header ``name``; None for a name with ``_`` (dropped, as nginx
    and gunicorn do: ``X_A`` and ``X-A`` would both become ``HTTP_X_A``); HttpError when
    ``name`` is not a token."""
    key = _KEYS.get(name)
    if key is not None or name in _KEYS:
        return key
    if CHECK_NAMES and (not name or name.translate(None, _TOKEN)):
        raise HttpError("malformed header name %r" % name[:40])
    if b"_" in name:
        key = None
    else:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
    if len(_KEYS) < 1024:  # the names clients send are few; an attacker's are not kept
        _KEYS[name] = key
    return key


class RequestReader(object):
    """One connection's HTTP/1.1 parser and its queue of complete requests.

    ``fits(n)`` says whether the worker's memory budget can take ``n`` more bytes: a body
    announced larger than what is left is refused (503) before it is read.
    """

    def __init__(self, body_limit: int, fits: Callable[[int], bool],
                 own_bodies: bool = OWN_BODIES) -> None:
        self.body_limit = body_limit
        self.fits = fits
        self.parser = httptools.HttpRequestParser(self)
        self.own_bodies = own_bodies  # frame bodies here (llhttp reads the heads only)
        self.buffer = bytearray()     # own_bodies: bytes received and not parsed yet
        self.scanned = 0              # own_bodies: how much of buffer holds no head end
        self.body_left = 0            # own_bodies: Content-Length bytes still to come
        self.chunked: Optional[ChunkedBody] = None  # own_bodies: the chunked body being read
        self.head_only = False        # own_bodies: llhttp is being fed one head
        self.head_begun = False
        self.ready: Deque[Request] = collections.deque()
        self.current: Optional[Request] = None
        self.phase = IDLE
        self.stopped = False  # the parser read its last request (refused or upgraded)
        self.upgraded: Optional[Tuple[Request, int]] = None  # its body still to come
        self.error: Optional[HttpError] = None  # answered after the requests before it
        self.head_size = 0    # bytes of the current head's line and fields
        self.url: List[bytes] = []
        self.pieces: List[bytes] = []
        self.head_fed = 0     # bytes fed since the current head began
        self.begun = 0        # requests begun on this connection
        self.body_size = 0    # bytes of the current body so far
        self.reserved = 0     # its Content-Length: counted in the budget before it arrives
        self.held = 0         # body bytes of queued requests

    @property
    def retained(self) -> int:
        """Bytes this reader holds: queued bodies, the current body or head so far."""
        return self.held + max(self.body_size, self.reserved) + (
            self.head_fed if self.phase == HEAD else 0)

    @property
    def in_request(self) -> bool:
        """Whether part of a request has arrived but not all of it."""
        return self.phase != IDLE

    def feed(self, data: bytes) -> None:
        """Parse ``data``: complete requests go to ``ready``; a framing error ends the
        reading and waits in ``error`` until the requests before it are answered."""
        try:
            self._parse(data)
        except HttpError as exc:
            self.error = exc
            self.stopped = True
            self.phase = IDLE

    def _parse(self, data: bytes) -> None:
        if self.stopped:
            if self.upgraded is not None:
                self._raw_body(data)
            return
        if self.own_bodies:
            self._parse_own(data)
            return
        if self.phase == BODY:
            # The rest of a body, and maybe more requests after it: a head that begins here
            # is bounded by the read size, then counted from the next read on.
            self._feed(data)
            return
        if len(data) <= HEAD_SLICE:
            self._feed(data)
            if self.phase == HEAD:
                self._count_head(len(data))
            return
        # A head is parsed in slices so that its size is checked before it grows far: llhttp
        # itself has no limit and httptools buffers a header value until it ends.
        start = 0
        while start < len(data) and not self.stopped:
            if self.phase == BODY:
                self._feed(data[start:])
                return
            piece = data[start:start + HEAD_SLICE]
            self._feed(piece)
            if self.phase == HEAD:
                self._count_head(len(piece))
            start += len(piece)

    def _parse_own(self, data: bytes) -> None:
        """llhttp parses each head alone (a new parser per request); bodies are framed here."""
        buf = self.buffer
        buf += data
        while buf and not self.stopped:
            if self.phase == BODY:
                try:
                    if not self._own_body():
                        return
                except _Stop:
                    self.stopped = True
                continue
            while buf.startswith(b"\r\n"):  # empty lines before a request are ignored
                del buf[:2]
            if not buf or buf == b"\r":
                return
            end = buf.find(b"\r\n\r\n", max(0, self.scanned - 3))
            if end < 0:
                if self.phase != HEAD:  # the first bytes of a request: its deadline starts
                    self.phase = HEAD
                    self.begun += 1
                self.scanned = self.head_fed = len(buf)
                if len(buf) > MAX_HEAD + HEAD_SLICE:
                    raise HttpError("request line and headers larger than %d bytes" % MAX_HEAD,
                                    "431 Request Header Fields Too Large")
                return
            head = bytes(buf[:end + 4])
            del buf[:end + 4]
            self.scanned = 0
            if head.startswith(b"PRI * HTTP/2"):  # (llhttp 6 takes it for a request)
                raise _http2()
            self.parser = httptools.HttpRequestParser(self)
            self.head_only, self.head_begun = True, False
            queued = len(self.ready)
            try:
                self._feed(head)
            except HttpError:
                while len(self.ready) > queued:  # a request llhttp saw in a malformed head
                    self.ready.pop()
                raise
            finally:
                self.head_only = False
            if self.phase == HEAD and not self.stopped:  # llhttp wants more than the head
                raise _malformed_head()
            if self.upgraded is not None:
                rest = bytes(buf)
                buf.clear()
                self._raw_body(rest)
                return

    def _own_body(self) -> bool:
        """Go on with the current body from the buffer; whether it is complete."""
        buf = self.buffer
        if self.chunked is None:  # Content-Length
            take = min(len(buf), self.body_left)
            if take:
                self.pieces.append(bytes(buf[:take]))
                del buf[:take]
                self.body_size += take
                self.body_left -= take
            if self.body_left:
                return False
        else:
            before = self.chunked.size
            used, done = self.chunked.feed(buf, self.pieces)
            del buf[:used]
            self.body_size = self.chunked.size
            if self.body_size > self.body_limit:
                self.current.oversize = self.body_size
                self._stop(self.current)
            if not self.fits(self.body_size - before):
                self._refuse_memory(self.current)
            if not done:
                return False
            self.chunked = None
        self.on_message_complete()
        return True

    def _count_head(self, size: int) -> None:
        # ``size`` may include the end of the previous request: a head is refused past
        # MAX_HEAD + HEAD_SLICE bytes, so one of MAX_HEAD bytes always passes.
        self.head_fed += size
        if self.head_fed > MAX_HEAD + HEAD_SLICE:
            raise HttpError("request line and headers larger than %d bytes" % MAX_HEAD,
                            "431 Request Header Fields Too Large")

    def _feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            # Upgrade (h2c, websocket) and CONNECT are not served: the request is answered
            # as HTTP/1.1 and the connection then closes. llhttp stops at the end of the head
            # and leaves the body to the new protocol: a Content-Length body is read here.
            self.stopped = True
            request = self.ready[-1]
            request.keep_alive = False
            if "HTTP_TRANSFER_ENCODING" in request.headers:
                raise HttpError("a request asking for an Upgrade cannot have a chunked body: "
                                "send a Content-Length or leave out Upgrade") from None
            length = int(request.headers.get("CONTENT_LENGTH") or 0)
            if length and not request.oversize and request.refused is None:
                self.ready.pop()
                self.upgraded = (request, length)
                offset = exc.args[0] if exc.args else len(data)
                self._raw_body(data[offset:])
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, _Stop):
                self.stopped = True
                return
            if isinstance(cause, HttpError):
                raise cause
            if self.ready and not self.ready[-1].keep_alive:
                self.stopped = True  # the rest came after the connection's last request
                return
            if "PRI" in str(exc):  # HTTP/2's preface
                raise _http2()

            raise HttpError(str(exc) or type(exc).__name__) from exc

    def _raw_body(self, data: bytes) -> None:
        """The Content-Length body of an Upgrade request, which llhttp does not read."""
        request, length = self.upgraded
        need = length - self.body_size
        if data:
            self.pieces.append(data[:need])
            self.body_size += min(len(data), need)
        if self.body_size >= length:
            self.upgraded = None
            self.phase = BODY
            self.current = request
            self.on_message_complete()
        else:
            self.phase = BODY

    def take(self) -> Request:
        """The oldest complete request (the caller checked ``ready``)."""
        request = self.ready.popleft()
        self.held -= request.size
        return request

    # -- llhttp callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.head_only:  # own bodies: one head per feed; a second one means llhttp
            if self.head_begun:  # ended the first earlier than this module did
                raise _malformed_head()
            self.head_begun = True
        self.current = Request()
        self.phase = HEAD
        self.begun += 1
        self.head_size = 0
        self.head_fed = 0
        del self.url[:]
        del self.pieces[:]
        self.body_size = 0

    def on_url(self, url: bytes) -> None:
        self.url.append(url)
        self.head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value) + 4
        key = environ_key(name)
        if key is None:
            return
        if CHECK_VALUES and value.translate(None, _VALUE_OK):
            raise HttpError("control character in header %r" % name[:40])
        headers = self.current.headers
        text = value.decode("latin-1")
        if key in headers:
            if key in _SINGLE:
                raise HttpError("more than one %s header" % name.decode("latin-1")[:40])
            headers[key] = headers[key] + "," + text
        else:
            headers[key] = text

    def on_headers_complete(self) -> None:
        request = self.current
        parser = self.parser
        if self.head_size > MAX_HEAD:
            raise HttpError("request line and headers larger than %d bytes" % MAX_HEAD,
                            "431 Request Header Fields Too Large")
        request.version = parser.get_http_version()
        if request.version not in _VERSIONS:
            raise HttpError("HTTP/%s is not served here: send HTTP/1.1" % request.version[:8],
                            "505 HTTP Version Not Supported")
        method = parser.get_method()
        text = _METHODS.get(method)
        if text is None:
            text = method.decode("latin-1")
            if len(_METHODS) < 64:
                _METHODS[method] = text
        request.method = text
        url = self.url
        request.target = (url[0] if len(url) == 1 else b"".join(url)).decode("latin-1")
        request.keep_alive = parser.should_keep_alive()
        headers = request.headers
        if request.version == "1.1" and "HTTP_HOST" not in headers:
            raise HttpError("an HTTP/1.1 request needs a Host header")
        coding = headers.get("HTTP_TRANSFER_ENCODING")
        if coding is not None:
            if request.version != "1.1":
                raise HttpError("Transfer-Encoding is not allowed in an HTTP/1.0 request")
            if coding.strip().lower() != "chunked":
                raise HttpError("Transfer-Encoding %r is not supported: send chunked or a "
                                "Content-Length" % coding[:40], "501 Not Implemented")
        if headers.get("HTTP_EXPECT", "").lower() == "100-continue" and (
                request.version == "1.1"):
            request.expect_continue = True
        self.phase = BODY
        length = headers.get("CONTENT_LENGTH")
        if length is not None:
            size = int(length)  # llhttp checked: digits only
            if size > self.body_limit:
                request.oversize = size
                self._stop(request)
            if not self.fits(size):
                self._refuse_memory(request)
            self.reserved = size
            if self.own_bodies and size and not parser.should_upgrade():
                self.body_left = size  # (llhttp completes a message without a body itself)
        elif coding is not None and self.own_bodies:
            self.chunked = ChunkedBody()

    def on_body(self, body: bytes) -> None:
        if self.head_only:  # llhttp ended the head earlier than this module did
            raise _malformed_head()
        self.pieces.append(body)
        self.body_size += len(body)
        if self.body_size > self.body_limit:
            self.current.oversize = self.body_size
            self._stop(self.current)
        if "CONTENT_LENGTH" not in self.current.headers and not self.fits(len(body)):
            self._refuse_memory(self.current)

    def on_message_complete(self) -> None:
        request = self.current
        pieces = self.pieces
        if pieces:
            request.body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            del pieces[:]
        request.size = self.body_size
        self.held += self.body_size
        self.body_size = self.reserved = 0
        self.phase = IDLE
        self.current = None
        self.ready.append(request)
        if not request.keep_alive:
            self.stopped = True  # bytes after the connection's last request are not read

    # -- refusals -----------------------------------------------------------------------------

    def _refuse_memory(self, request: Request) -> None:
        request.refused = (503, "the server holds too many request bodies at the moment: "
                                "try again shortly (the worker's memory budget, "
                                "MODELKILN_MEMORY_BUDGET, is spent)")
        self._stop(request)

    def _stop(self, request: Request) -> None:
        """Queue ``request`` without its body and read nothing more from the connection."""
        request.keep_alive = False
        request.body = b""
        del self.pieces[:]
        self.body_size = self.reserved = 0
        self.chunked = None
        self.phase = IDLE
        self.current = None
        self.ready.append(request)
        raise _Stop()


class ChunkedBody(object):
    """A chunked body, framed strictly (RFC 9112 7.1) and incrementally: where llhttp is too
    lenient to be trusted with it (OWN_BODIES)."""

    SIZE, DATA, DATA_END, TRAILER = range(4)
    MAX_LINE = 4096      # a chunk size line with its extensions
    MAX_TRAILER = 8192   # all trailer lines together

    def __init__(self) -> None:
        self.state = self.SIZE
        self.left = 0        # bytes of the current chunk still to come
        self.size = 0        # body bytes so far
        self.trailer = 0     # trailer bytes so far

    def feed(self, buf: bytearray, pieces: List[bytes]) -> Tuple[int, bool]:
        """Take what ``buf`` holds: (bytes used, whether the body ended); data goes to
        ``pieces``. Raises HttpError."""
        pos, end = 0, len(buf)
        while pos < end:
            if self.state == self.SIZE:
                # Fast path: a size line of hex digits alone, its data and CRLF all here.
                match = _PLAIN_SIZE(buf, pos)
                if match is not None:
                    start = match.end()
                    stop = start + int(match.group(1), 16)
                    if start < stop and stop + 2 <= end:
                        if buf[stop:stop + 2] != b"\r\n":
                            raise _unterminated_chunk()
                        pieces.append(bytes(buf[start:stop]))
                        self.size += stop - start
                        pos = stop + 2
                        continue
            if self.state == self.DATA:
                take = min(end - pos, self.left)
                pieces.append(bytes(buf[pos:pos + take]))
                pos += take
                self.left -= take
                self.size += take
                if not self.left:
                    self.state = self.DATA_END
            elif self.state == self.DATA_END:
                if end - pos < 2:
                    break
                if buf[pos:pos + 2] != b"\r\n":
                    raise _unterminated_chunk()
                pos += 2
                self.state = self.SIZE
            else:
                line_end = buf.find(b"\r\n", pos)
                if line_end < 0:
                    if end - pos > self.MAX_LINE:
                        raise HttpError("chunk size line too long")
                    break
                line = bytes(buf[pos:line_end])
                pos = line_end + 2
                if self.state == self.SIZE:
                    self.left = _chunk_size(line)
                    self.state = self.DATA if self.left else self.TRAILER
                    continue
                self.trailer += len(line) + 2
                if not line:
                    return pos, True
                name, colon, value = line.partition(b":")
                if (not colon or not name or name.translate(None, _TOKEN)
                        or value.translate(None, _VALUE_OK)):
                    raise HttpError("malformed trailer line in a chunked body")
                if self.trailer > self.MAX_TRAILER:
                    raise HttpError("chunked body trailer too long")
        return pos, False


def _unterminated_chunk() -> HttpError:
    return HttpError("chunk data not followed by CRLF (a chunk longer than its size?)")


def _chunk_size(line: bytes) -> int:
    """The size in a chunk size line: hex digits only (no sign, no 0x, no spaces), then
    extensions ``;name`` or ``;name=value`` (a token or a quoted string), no whitespace: what
    llhttp 9 accepts (it lets a name or a value be empty)."""
    size, semicolon, extensions = line.partition(b";")
    if not size or size.translate(None, _HEX):
        raise HttpError("malformed chunk size %r" % size[:20])
    if len(size) > 15:
        raise HttpError("chunk size overflow")
    if semicolon and (extensions.endswith(b";") or not extensions
                      or not _EXTENSIONS.match(semicolon + extensions)):
        raise HttpError("malformed chunk extension")
    return int(size, 16)


_TOKEN_RE = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]*"
_EXTENSIONS = re.compile(rb'(?:;%s(?:=(?:%s|"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"))?)+\Z'
                         % (_TOKEN_RE, _TOKEN_RE))


_HEX = b"0123456789abcdefABCDEF"
_PLAIN_SIZE = re.compile(rb"([0-9a-fA-F]{1,15})\r\n").match
# Bytes a header value may hold: visible ASCII, space, tab and obs-text (0x80-0xff).
_VALUE_OK = bytes(bytearray([9] + list(range(32, 127)) + list(range(128, 256))))
