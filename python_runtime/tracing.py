"""OpenTelemetry tracing: a span per request on every protocol (REST v1, V2 REST, gRPC), with
child spans for decoding the request, the call into the model (the user's method in a span of
its own inside it) and encoding the answer.

Off unless the standard ``OTEL_*`` variables ask for it (an OTLP endpoint, or
``OTEL_TRACES_EXPORTER``); when off, nothing here runs on a request: the handlers are built
without it. The W3C ``traceparent`` of a request is the parent of its span, and the answer
carries the server span's own ``traceparent`` (an HTTP header, gRPC initial metadata).

Spans are exported by the OpenTelemetry SDK over OTLP/HTTP (``opentelemetry-sdk`` and
``opentelemetry-exporter-otlp-proto-http``, in the py311 builder image; optional elsewhere),
configured by the SDK's own variables: ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``(``_ARG``), ``OTEL_BSP_*``. Seldon's
``TRACING`` / ``JAEGER_*`` variables are not translated (a Jaeger agent speaks another
protocol): start-up says so and names the variable to set instead.
"""

import functools
import logging
import os
import threading
from typing import Any, Callable, Dict, Iterator, Mapping, Optional

log = logging.getLogger("modelkiln")

TRUE = ("1", "true", "yes", "on")
EXPORTERS = ("otlp", "console", "none")
PACKAGES = "opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http"
_server_span = threading.local()  # .span: the request span this thread is inside


def wanted(environ: Mapping[str, str]) -> Optional[str]:
    """The exporter the environment asks for ("otlp" or "console"), or None."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() in TRUE:
        return None
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        first = exporter.split(",")[0].strip()
        if first not in EXPORTERS:
            log.warning("OTEL_TRACES_EXPORTER=%s: modelkiln exports traces with otlp or "
                        "console only; tracing is off", exporter)
            return None
        return None if first == "none" else first
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"):
        return "otlp"
    return None


def configure(settings: Any, environ: Optional[Mapping[str, str]] = None) -> Optional["Tracing"]:
    """A ``Tracing`` when the environment asks for traces (and the packages are there), else
    None; says why on the log when something asked for tracing that will not happen."""
    environ = os.environ if environ is None else environ
    exporter = wanted(environ)
    if environ.get("TRACING", "").strip().lower() in TRUE and exporter is None:
        log.warning("TRACING=%s asks for Seldon's Jaeger tracing, which modelkiln does not "
                    "speak (JAEGER_* variables are ignored): set OTEL_EXPORTER_OTLP_ENDPOINT, "
                    "e.g. http://jaeger-collector:4318, to export OpenTelemetry traces over "
                    "OTLP/HTTP", environ.get("TRACING"))
    if exporter is None:
        return None
    try:
        return Tracing(settings, environ, exporter)
    except ImportError as exc:
        log.error("tracing is asked for (OTEL_* variables) but cannot start: %s; install %s "
                  "(add them to requirements.txt; the py311 builder image has them)",
                  exc, PACKAGES)
        return None


def _traceparent(span: Any) -> str:
    context = span.get_span_context()
    return "00-%032x-%016x-%02x" % (context.trace_id, context.span_id, context.trace_flags)


def annotate(key: str, value: Any) -> None:
    """Set an attribute on the request span this thread is serving (if any)."""
    span = getattr(_server_span, "span", None)
    if span is not None and value is not None:
        span.set_attribute(key, value)


class Tracing(object):
    """The tracer of one server; ``start()`` in each worker begins exporting."""

    def __init__(self, settings: Any, environ: Mapping[str, str], exporter: str) -> None:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        if exporter == "otlp":  # fail now (not in the worker) when the exporter is missing
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: F401
                OTLPSpanExporter)
        from . import __version__

        attributes = {"service.version": __version__}
        if not environ.get("OTEL_SERVICE_NAME") and "service.name=" not in environ.get(
                "OTEL_RESOURCE_ATTRIBUTES", ""):
            attributes["service.name"] = settings.unit_id or settings.model_name
        self.exporter = exporter
        self.provider = TracerProvider(resource=Resource.create(attributes))
        self.tracer = self.provider.get_tracer("modelkiln", __version__)
        self.trace = trace
        self.server_kind = trace.SpanKind.SERVER
        self.error = trace.Status(trace.StatusCode.ERROR)
        self.propagator = TraceContextTextMapPropagator()
        self.started = False
        where = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT") or "the console"
        log.info("tracing: OpenTelemetry spans exported with %s to %s", exporter, where)

    def start(self) -> None:
        """Begin exporting (in the worker: the batch processor's thread must not be forked)."""
        if self.started:
            return
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        if self.exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()  # type: Any
        else:
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporter = ConsoleSpanExporter()
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.started = True

    def shutdown(self) -> None:
        """Export what is left (worker exit)."""
        if self.started:
            self.provider.shutdown()

    # -- spans --------------------------------------------------------------------------

    def span(self, name: str) -> Any:
        """A child span of whatever span is current on this thread."""
        return self.tracer.start_as_current_span(name)

    def _request_span(self, name: str, traceparent: Optional[str], tracestate: Optional[str],
                      attributes: Dict[str, Any]) -> Any:
        parent = self._parent(traceparent, tracestate)
        return self.tracer.start_as_current_span(
            name, context=parent, kind=self.server_kind, attributes=attributes,
            record_exception=False, set_status_on_exception=False)

    def wsgi(self, environ: Dict[str, Any], start_response: Callable[..., Any],
             serve: Callable[..., Any], request_id: str) -> Any:
        """Serve one REST request inside its span."""
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO") or "/"
        with self._request_span("%s %s" % (method, path), environ.get("HTTP_TRACEPARENT"),
                                environ.get("HTTP_TRACESTATE"), {
                                    "http.request.method": method, "url.path": path,
                                    "modelkiln.request_id": request_id}) as span:
            _server_span.span = span

            def traced_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
                code = int(status[:3])
                span.set_attribute("http.response.status_code", code)
                if code >= 500:
                    span.set_status(self.error)
                headers.append(("traceparent", _traceparent(span)))
                return start_response(status, headers, exc_info)

            try:
                answer = serve(environ, traced_start_response)
            finally:
                _server_span.span = None
            route = environ.get("modelkiln.route")
            if route:
                span.set_attribute("http.route", route)
                span.update_name("%s %s" % (method, route))
            return answer

    def grpc(self, full_method: str, context: Any, metadata: Dict[str, str], request_id: str,
             run: Callable[[bytes], Any], raw: bytes, code_of: Callable[[Any], str]) -> Any:
        """Run one gRPC call inside its span: (answer, error) of ``run(raw)``."""
        service, _, method = full_method.lstrip("/").partition("/")
        with self._request_span(full_method.lstrip("/"), metadata.get("traceparent"),
                                metadata.get("tracestate"), {
                                    "rpc.system": "grpc", "rpc.service": service,
                                    "rpc.method": method,
                                    "modelkiln.request_id": request_id}) as span:
            _server_span.span = span
            try:
                context.send_initial_metadata((("traceparent", _traceparent(span)),))
                answer, error = run(raw)
            finally:
                _server_span.span = None
            code = "OK" if error is None else code_of(error)
            span.set_attribute("rpc.grpc.status_code", code)
            if error is not None and error.status_code >= 500:
                span.set_status(self.error)
            return answer, error

    def grpc_stream(self, full_method: str, context: Any, metadata: Dict[str, str],
                    request_id: str, answers: Iterator[bytes]) -> Iterator[bytes]:
        """``answers`` (those of one request message of a streaming call), made inside a
        span of their own that ends after the last."""
        service, _, method = full_method.lstrip("/").partition("/")
        span = self.tracer.start_span(
            full_method.lstrip("/"), context=self._parent(metadata.get("traceparent"),
                                                          metadata.get("tracestate")),
            kind=self.server_kind, attributes={
                "rpc.system": "grpc", "rpc.service": service, "rpc.method": method,
                "modelkiln.request_id": request_id})
        if not context.initial:  # (the call's head carries its first request's)
            context.send_initial_metadata((("traceparent", _traceparent(span)),))
        return self.pieces_in(span, answers, "modelkiln.stream.answers")

    def stream_span(self, label: str) -> Any:
        """The span of a streamed REST answer: a child of the request's, from its head to
        its last piece (``pieces_in``, ``end_stream``)."""
        return self.tracer.start_span("stream " + label)

    def pieces_in(self, span: Any, pieces: Iterator[Any], counted: str) -> Iterator[Any]:
        """``pieces``, each made inside ``span`` (the user's spans nest in it); the span ends
        after the last or at ``close()``, with their count as ``counted``."""
        return _TracedPieces(self, span, pieces, counted)

    def _parent(self, traceparent: Optional[str], tracestate: Optional[str]) -> Any:
        if not traceparent:
            return None
        carrier = {"traceparent": traceparent}
        if tracestate:
            carrier["tracestate"] = tracestate
        return self.propagator.extract(carrier)

    def user_method(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` (a user's bound method) with a span of its own around each call, named
        after it (``MyModel.predict``)."""
        tracer = self.tracer
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", "user call")

        @functools.wraps(func)
        def traced(*args: Any, **kwargs: Any) -> Any:
            with tracer.start_as_current_span(name):
                return func(*args, **kwargs)

        return traced


class _TracedPieces(object):
    """See ``Tracing.pieces_in``."""

    def __init__(self, tracing: Tracing, span: Any, pieces: Iterator[Any], counted: str
                 ) -> None:
        self.tracing, self.span, self.pieces, self.counted = tracing, span, pieces, counted
        self.count = 0
        self.ended = False

    def __iter__(self) -> "_TracedPieces":
        return self

    def __next__(self) -> Any:
        span = self.span
        with self.tracing.trace.use_span(span, end_on_exit=False, record_exception=False,
                                         set_status_on_exception=False):
            _server_span.span = span
            try:
                piece = next(self.pieces)
            except StopIteration:
                self._end()
                raise
            except BaseException as exc:
                span.set_status(self.tracing.error)
                span.record_exception(exc)
                self._end()
                raise
            finally:
                _server_span.span = None
        self.count += 1
        return piece

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self.span.set_attribute(self.counted, self.count)
            self.span.end()

    def close(self) -> None:
        """The client went away: the span ends, the generator's ``finally`` runs."""
        self._end()
        close = getattr(self.pieces, "close", None)
        if close is not None:
            close()


def phased(tracing: Optional[Tracing], name: str, decode: Callable[..., Any],
           call: Callable[[Any], Any], encode: Callable[[Any], Any]) -> Callable[..., Any]:
    """A handler that decodes its arguments, calls the model, encodes the answer; traced,
    each step is a child span ("decode", ``name``, "encode") of the request's span."""
    if tracing is None:
        def handle(*args: Any) -> Any:
            return encode(call(decode(*args)))
        return handle

    span = tracing.span

    def traced(*args: Any) -> Any:
        with span("decode"):
            request = decode(*args)
        with span(name):
            answer = call(request)
        with span("encode"):
            return encode(answer)

    return traced
