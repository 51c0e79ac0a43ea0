"""Seldon Core v1 REST: its routes, bodies and error shape, on top of ``inference.seldon``.

Every route is served whatever the SERVICE_TYPE (old clients rely on it). Errors are Seldon's
``{"status": {"status": 1, "info", "code", "reason"}}``.
"""

from typing import Any, Dict, List

from .. import tracing
from ..codecs import jsonio
from ..errors import MicroserviceError, as_error
from ..inference.seldon import (AGGREGATE, PREDICT, ROUTE, SEND_FEEDBACK, TRANSFORM_INPUT,
                                TRANSFORM_OUTPUT, Operation, SeldonCalls)
from ..model.context import ServingContext
from ..model.metadata import metadata_or_error
from . import schemas
from .body import json_text, read_body, request_message
from ..streams import EVENT_HEADERS, EVENTS, Stream, accepts_events, is_stream, sse
from .routes import JSON, TEXT, Answer, Doc, Handler, Route

END_EVENT = sse(b"{}", "end")

GET_POST = ("GET", "POST")
POST = ("POST",)
GET = ("GET",)
# (path, methods, operation): the message routes, aliases included.
MESSAGE_ROUTES = (
    ("/predict", GET_POST, PREDICT),
    ("/api/v1.0/predictions", POST, PREDICT),
    ("/api/v0.1/predictions", POST, PREDICT),
    ("/send-feedback", GET_POST, SEND_FEEDBACK),
    ("/api/v1.0/feedback", POST, SEND_FEEDBACK),
    ("/api/v0.1/feedback", POST, SEND_FEEDBACK),
    ("/transform-input", GET_POST, TRANSFORM_INPUT),
    ("/transform-output", GET_POST, TRANSFORM_OUTPUT),
    ("/route", GET_POST, ROUTE),
    ("/aggregate", GET_POST, AGGREGATE),
)
MESSAGE_ERRORS = ((400, "Bad request data"), (413, "Body too large"),
                  (415, "Unsupported content type"), (500, "Model error"),
                  (503, "Model not loaded"))
BODY_TYPES = (JSON, "application/x-www-form-urlencoded", "multipart/form-data")


class SeldonRest(object):
    """Seldon's REST API for one served model."""

    name = "seldon"
    docs_path = "/seldon.json"  # named in 404 answers
    error_schema = "SeldonError"

    def __init__(self, ctx: ServingContext) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self.calls = SeldonCalls(ctx.component, ctx.metrics, settings.request_path,
                                 settings.unit_id, ctx.signature)
        self.passthrough = settings.payload_passthrough

    def error_answer(self, error: MicroserviceError) -> Answer:
        return error.status_code, jsonio.dumps(error.to_body()), JSON

    def routes(self) -> List[Route]:
        routes = [self._message_route(path, methods, op) for path, methods, op in MESSAGE_ROUTES]
        message = schemas.ref("SeldonMessage")
        for path, handler, doc in (
            ("/health/ping", self._ping, Doc("Liveness of the HTTP server (answers pong)",
                                             response_types=(TEXT,))),
            ("/health/status", self._health_status,
             Doc("Health from the model", response=message, errors=((503, "Not ready"),))),
            ("/api/v1.0/health/status", self._health_status,
             Doc("Health from the model", response=message, errors=((503, "Not ready"),))),
            ("/metadata", self._metadata,
             Doc("Model metadata", errors=((500, "Metadata unavailable"),))),
            ("/api/v1.0/metadata", self._metadata,
             Doc("Model metadata", errors=((500, "Metadata unavailable"),))),
            ("/live", self._live, Doc("Kubernetes liveness")),
            ("/ready", self._ready,
             Doc("Kubernetes readiness (503 until load() finished)",
                 errors=((503, "Not ready"),))),
        ):
            routes.append(Route(path, GET, handler, self, doc))
        return routes

    # -- message routes -----------------------------------------------------------------

    def _message_route(self, path: str, methods: Any, op: Operation) -> Route:
        doc = Doc(op.summary, request=schemas.ref(op.body), response=schemas.ref("SeldonMessage"),
                  errors=MESSAGE_ERRORS,
                  query=({"name": "json", "in": "query", "required": True,
                          "schema": {"type": "string"},
                          "description": "The %s as JSON text" % op.body},),
                  content_types=BODY_TYPES)
        return Route(path, methods, self._message_handler(op), self, doc)

    def _message_handler(self, op: Operation) -> Handler:
        call = getattr(self.calls, op.name)
        passthrough = self.passthrough and op is PREDICT
        check_status = op is PREDICT
        ctx = self.ctx

        def decode(environ: Dict[str, Any], params: Dict[str, str]) -> Any:
            ctx.state.check()
            body = read_body(environ, ctx.limit)
            if passthrough:
                return json_text(environ, body)
            return request_message(environ, body)

        def run(request: Any) -> Any:
            return ctx.call_model(call, request)

        def encode(answer: Any) -> Answer:
            return encode_answer(answer, check_status)

        if op is PREDICT:
            plain = self._traced(op, decode, run, encode)

            def handler(environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
                if accepts_events(environ):
                    return self._stream(environ)
                return plain(environ, params)
            return handler
        return self._traced(op, decode, run, encode)

    def _traced(self, op: Operation, decode: Any, run: Any, encode: Any) -> Handler:
        ctx = self.ctx
        if ctx.tracing is None:
            return tracing.phased(None, op.name, decode, run, encode)

        def traced_encode(answer: Any) -> Answer:
            if isinstance(answer, dict) and isinstance(answer.get("meta"), dict):
                tracing.annotate("seldon.puid", answer["meta"].get("puid"))
            return encode(answer)

        return tracing.phased(ctx.tracing, op.name, decode, run, traced_encode)

    def _stream(self, environ: Dict[str, Any]) -> Answer:
        """Predictions as Server-Sent Events (``Accept: text/event-stream``): one event per
        piece of predict_stream(), each an answer message as predict() would get; then
        ``event: end``; a piece that fails sends ``event: error`` with Seldon's error body."""
        ctx = self.ctx
        ctx.state.check()
        request = request_message(environ, read_body(environ, ctx.limit))
        msg, pieces = ctx.call_model(self.calls.predict_stream, request)
        calls = self.calls

        def encode(piece: Any) -> bytes:
            return sse(jsonio.dumps(calls.stream_piece(msg, piece)))

        def failure(exc: BaseException) -> bytes:
            return sse(jsonio.dumps(as_error(exc).to_body()), "error")

        if not is_stream(pieces):  # one answer: one event
            pieces = iter([pieces])
        stream = Stream(pieces, encode, failure, END_EVENT, lock=ctx.component.lock,
                        metrics=ctx.metrics, label=environ.get("PATH_INFO") or "",
                        tracing=ctx.tracing)
        return 200, stream, EVENTS, EVENT_HEADERS

    # -- health and metadata ------------------------------------------------------------

    def _ping(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, b"pong", TEXT

    def _live(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, b'{"status":"alive"}', JSON

    def _ready(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self.ctx.state.check()
        return 200, b'{"status":"ready"}', JSON

    def _health_status(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self.ctx.state.check()
        return encode_answer(self.calls.health_status(), False)

    def _metadata(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        ctx = self.ctx
        return 200, jsonio.dumps(metadata_or_error(ctx.metadata, ctx.metadata_error)), JSON


def encode_answer(answer: Any, check_status: bool) -> Answer:
    """An answer of a user method or operation as HTTP: raw bytes and text go out as they
    are; a raw answer may choose its HTTP status through ``status.code`` (Seldon does)."""
    status = 200
    if isinstance(answer, (bytes, bytearray)):
        return status, bytes(answer), JSON
    if isinstance(answer, str):
        return status, answer.encode("utf-8"), JSON
    if check_status and isinstance(answer, dict):
        code = answer.get("status", {}).get("code") if isinstance(
            answer.get("status"), dict) else None
        if isinstance(code, int) and 100 <= code <= 599:
            status = code
    return status, jsonio.dumps(answer), JSON
