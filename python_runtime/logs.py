"""Log lines as text (the default) or as JSON objects, one per line, for log pipelines
(``MODELKILN_LOG_FORMAT=json``).

A JSON line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and ``pid``; inside a
request also ``request_id``; access lines add ``remote_addr``, ``method``, ``path``,
``protocol``, ``status``, ``bytes`` and ``duration_s``; a logged exception adds ``exception``.

The request id is the request's ``X-Request-Id`` header (or gRPC ``x-request-id`` metadata) when it
sends a usable one, otherwise a new random one; it is made only when something logs it, and
the access line of the request carries the same one.

A text line is one record: control characters in it (a path's ``%0a``, an escape sequence)
are written escaped (``\\n``, ``\\x1b``), so no client can forge a second line; a logged
exception follows as the usual traceback, its message escaped the same way. JSON lines
escape them as JSON does.
"""

import json
import logging
import re
import sys
import threading
import time
import traceback
import uuid
from typing import Any, Dict, Optional

from gunicorn import glogging

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
REQUEST_ID_KEY = "modelkiln.request_id"  # in a request's WSGI environ, once made
_USABLE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces, bounded
# C0 controls, DEL, and the two characters JavaScript (and some log viewers) end lines at
_CONTROL = re.compile("[\x00-\x1f\x7f\u2028\u2029]")
_CONTROL_IN_BLOCK = re.compile("[\x00-\x09\x0b-\x1f\x7f\u2028\u2029]")  # all but \n
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

_current = threading.local()  # .environ: the request this thread is serving


class State(object):
    json = False  # MODELKILN_LOG_FORMAT=json in this process


STATE = State()


def request_id(environ: Dict[str, Any]) -> str:
    """The id of the request ``environ`` describes (made once, then kept in it)."""
    rid = environ.get(REQUEST_ID_KEY)
    if rid is None:
        given = environ.get("HTTP_X_REQUEST_ID")
        rid = given if given and _USABLE_ID.match(given) else uuid.uuid4().hex
        environ[REQUEST_ID_KEY] = rid
    return rid


def grpc_request(metadata: Dict[str, str]) -> Dict[str, Any]:
    """A stand-in for a WSGI environ for a gRPC call (what ``request_id`` reads)."""
    return {"HTTP_X_REQUEST_ID": metadata.get("x-request-id")}


def enter(environ: Dict[str, Any]) -> None:
    """This thread now serves the request of ``environ`` (its log lines carry its id)."""
    _current.environ = environ


def leave() -> None:
    _current.environ = None


def current_request_id() -> Optional[str]:
    environ = getattr(_current, "environ", None)
    return request_id(environ) if environ is not None else None


def _utc(created: float) -> str:
    return "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)),
                         int(created * 1000) % 1000)


def _escape_one(match: Any) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return "\\x%02x" % code if code < 0x100 else "\\u%04x" % code


def escape(text: str) -> str:
    """``text`` on one line: control characters written as ``\\n``, ``\\x1b``, ``\\u2028``."""
    return _CONTROL.sub(_escape_one, text)


class TextFormatter(logging.Formatter):
    """One text line per record whatever its message holds; a logged exception follows as
    the usual traceback, whose exception lines are escaped too (their text may come from a
    client), so every line of it is a line of the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = escape(self.formatMessage(record))
        extra = []
        if record.exc_info:
            extra.append(self.formatException(record.exc_info))
        elif record.exc_text:  # formatted elsewhere: its lines cannot be told apart
            extra.append(_CONTROL_IN_BLOCK.sub(_escape_one, record.exc_text))
        if record.stack_info:
            extra.append(_CONTROL_IN_BLOCK.sub(_escape_one, self.formatStack(record.stack_info)))
        return "\n".join([text] + [block.rstrip("\n") for block in extra])

    def formatException(self, ei: Any) -> str:
        if ei[0] is None:  # log.exception() outside an except block
            return super(TextFormatter, self).formatException(ei)
        chunks = []
        for chunk in traceback.TracebackException(*ei[:3]).format():
            if chunk.startswith(" "):  # a frame and its source line: the app's own text
                chunks.append(_CONTROL_IN_BLOCK.sub(_escape_one, chunk))
                continue
            # "Traceback ...", "ValueError: <message>", "During handling ...": one line each
            body = chunk.strip("\n")
            start = chunk.index(body) if body else 0
            chunks.append(chunk[:start] + escape(body) + chunk[start + len(body):])
        return "".join(chunks)


def escaping(formatter: Optional[logging.Formatter]) -> TextFormatter:
    """A ``TextFormatter`` with ``formatter``'s format and date format (gunicorn's own)."""
    if formatter is None:
        return TextFormatter()
    return TextFormatter(formatter._fmt, formatter.datefmt)


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }  # type: Dict[str, Any]
        rid = getattr(record, "request_id", None) or current_request_id()
        if rid is not None:
            line["request_id"] = rid
        access = getattr(record, "access", None)
        if access:
            line.update(access)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        # json escapes control characters but not U+2028/U+2029, which some readers take
        # for line ends
        return json.dumps(line, ensure_ascii=False, default=str).replace(
            "\u2028", "\\u2028").replace("\u2029", "\\u2029")


def configure(level: str, log_format: str = "text") -> None:
    """The root logger (the model's own loggers included) and modelkiln's, on stdout."""
    STATE.json = log_format == "json"
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if STATE.json else TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level, logging.INFO))
    logging.getLogger("modelkiln").setLevel(getattr(logging, level, logging.INFO))


def access(logger: logging.Logger, environ: Dict[str, Any], status: str, length: int,
           seconds: float) -> None:
    """One access line for an answered request (every worker kind writes it the same way)."""
    target = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
    protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
    code = status.split(" ", 1)[0]
    fields = {"remote_addr": environ.get("REMOTE_ADDR", "-"),
              "method": environ.get("REQUEST_METHOD", "-"), "path": target,
              "protocol": protocol, "status": int(code) if code.isdigit() else code,
              "bytes": length, "duration_s": round(seconds, 6)}
    logger.info('%s - "%s %s %s" %s %d %.6f', fields["remote_addr"], fields["method"], target,
                protocol, code, length, seconds,
                extra={"access": fields, "request_id": request_id(environ)})


class ServerLogger(glogging.Logger):
    """gunicorn's logger with modelkiln's access line, in JSON when asked."""

    def setup(self, cfg: Any) -> None:
        super(ServerLogger, self).setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter() if STATE.json
                                     else escaping(handler.formatter))

    def access(self, resp: Any, req: Any, environ: Dict[str, Any], request_time: Any) -> None:
        if not self.cfg.accesslog:
            return
        length = getattr(resp, "sent", None) or getattr(resp, "response_length", None) or 0
        access(self.access_log, environ, str(resp.status), length,
               request_time.total_seconds())
