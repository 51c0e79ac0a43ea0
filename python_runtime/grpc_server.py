"""gRPC in every worker: Seldon's services and V2's GRPCInferenceService on one server.

How the model is shared: each gunicorn worker, once its ``load()`` has finished, starts its
own gRPC server on the gRPC port with SO_REUSEPORT (the kernel spreads connections over the
workers' listeners). That server's threads call the same component object the worker's REST
loop calls, under one lock per worker, so there is exactly one copy of the model per worker
and it is never entered by two requests at once. A worker that dies takes its listener with
it; the master's replacement starts a new one. On SIGTERM the worker stops its gRPC server
with the graceful timeout, so in-flight calls finish.

Nothing here is imported by the master: grpcio must not be initialised before the fork.
"""

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import logs
from .context import ServingContext
from .errors import MicroserviceError, from_user_exception
from .tracing import Tracing

log = logging.getLogger("modelkiln")

# HTTP status of an error -> gRPC status code name (README: "gRPC status codes")
STATUS_FOR_HTTP = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                   404: "NOT_FOUND", 405: "UNIMPLEMENTED", 409: "ABORTED",
                   413: "RESOURCE_EXHAUSTED", 415: "INVALID_ARGUMENT",
                   429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 501: "UNIMPLEMENTED",
                   503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def code_for(error: MicroserviceError) -> str:
    """The gRPC code name of an error: its own, else the one for its HTTP status."""
    return error.grpc_code or status_for(error.status_code)


def _reason(error: MicroserviceError) -> str:
    status = (error.custom_body or {}).get("status")
    reason = status.get("reason") if isinstance(status, dict) else None
    return reason if isinstance(reason, str) else error.reason


def status_for(http_status: int) -> str:
    """The gRPC code name for an error that REST answers with ``http_status``."""
    found = STATUS_FOR_HTTP.get(http_status)
    if found:
        return found
    return "FAILED_PRECONDITION" if 400 <= http_status < 500 else "INTERNAL"


class _Method(object):
    """One method: parse the bytes, call the protocol, count it; errors become a status."""

    __slots__ = ("full_method", "call", "parse", "type_name", "metrics")

    def __init__(self, metrics: Any, full_method: str, call: Callable[[Any], Any],
                 request_class: Any) -> None:
        self.full_method = full_method
        self.call = call
        self.parse = request_class.FromString
        self.type_name = request_class.DESCRIPTOR.full_name
        self.metrics = metrics

    def run(self, raw: bytes) -> Tuple[Any, Any]:
        """(answer, None) or (None, error)."""
        started = time.perf_counter()
        error = None  # type: Any
        answer = None
        try:
            try:
                request = self.parse(raw)
            except Exception as exc:  # DecodeError, or a string field that is not UTF-8
                raise MicroserviceError(
                    "the request is not a valid %s message (%s); check that the client uses "
                    "the same .proto" % (self.type_name, exc or type(exc).__name__)) from None
            answer = self.call(request)
        except MicroserviceError as exc:
            error = exc
        except Exception as exc:  # user code: the error names it; the server stays up
            error = from_user_exception(exc)
            if error.status_code >= 500:
                log.error("%s failed: %s", self.full_method, error.message, exc_info=exc)
        if self.metrics is not None:
            self.metrics.observe_grpc(self.full_method,
                                      "OK" if error is None else code_for(error),
                                      time.perf_counter() - started)
        return answer, error


def _trailers(error: MicroserviceError) -> Tuple[Tuple[str, str], ...]:
    return (("modelkiln-http-status", str(error.status_code)),
            ("modelkiln-reason", _reason(error)))


def _method_handler(grpc: Any, method: _Method, response_class: Any,
                    traced: Optional[Tracing]) -> Any:
    if traced is not None or logs.STATE.json:
        run = _in_context(method, traced)
    else:
        plain = method.run
        run = lambda raw, context: plain(raw)  # noqa: E731

    def handle(raw: bytes, context: Any) -> Any:
        answer, error = run(raw, context)
        if error is None:
            return answer
        context.set_trailing_metadata(_trailers(error))
        context.abort(getattr(grpc.StatusCode, code_for(error)), error.message)

    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=None,  # parsed in run(): bad bytes are the client's
        response_serializer=response_class.SerializeToString)


def _in_context(method: _Method, traced: Optional[Tracing]) -> Callable[[bytes, Any], Any]:
    """``method.run`` with the call's request id on its log lines, in its span if traced."""
    def run(raw: bytes, context: Any) -> Tuple[Any, Any]:
        metadata = dict(context.invocation_metadata() or ())
        request = logs.grpc_request(metadata)
        logs.enter(request)
        try:
            if traced is None:
                return method.run(raw)
            return traced.grpc(method.full_method, context, metadata, logs.request_id(request),
                               method.run, raw, code_for)
        finally:
            logs.leave()

    return run


def _handlers(grpc: Any, ctx: ServingContext, protos: Any) -> List[Any]:
    from .protocols.grpc_seldon import SeldonGrpc
    from .protocols.grpc_v2 import V2Grpc

    implemented: Dict[str, Dict[str, Callable[[Any], Any]]] = {}
    for protocol in (SeldonGrpc(ctx, protos), V2Grpc(ctx, protos)):
        implemented.update(protocol.handlers())
    handlers = []
    for service, methods in protos.services.items():
        calls = implemented.get(service, {})
        table = {}
        for name, request_type, response_type in methods:
            if name in calls:
                method = _Method(ctx.metrics, "/%s/%s" % (service, name), calls[name],
                                 protos.message(request_type))
                table[name] = _method_handler(grpc, method, protos.message(response_type),
                                              ctx.tracing)
        handlers.append(grpc.method_handlers_generic_handler(service, table))
    return handlers


def _options(ctx: ServingContext) -> List[Tuple[str, int]]:
    limit = ctx.settings.grpc_max_message_size
    return [("grpc.so_reuseport", 1), ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit)]


def _bind(grpc: Any, server: Any, ctx: ServingContext) -> int:
    from .tls import grpc_credentials

    settings = ctx.settings
    address = "%s:%d" % (settings.bind_host, settings.grpc_port)
    credentials = grpc_credentials(grpc, settings)
    port = (server.add_secure_port(address, credentials) if credentials is not None
            else server.add_insecure_port(address))
    if not port:
        raise RuntimeError("cannot listen for gRPC on %s:%d"
                           % (settings.bind_host, settings.grpc_port))
    return port


class ThreadedServer(object):
    """grpcio's thread-pool server."""

    def __init__(self, ctx: ServingContext) -> None:
        import grpc
        from concurrent import futures

        from . import protos as protos_module

        protos = protos_module.load()
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=ctx.settings.grpc_threads,
                                       thread_name_prefix="modelkiln-grpc"),
            options=_options(ctx))
        self.server.add_generic_rpc_handlers(_handlers(grpc, ctx, protos))
        _enable_reflection(self.server, list(protos.services), protos.pool)
        self.port = _bind(grpc, self.server, ctx)
        self.server.start()

    def stop(self, grace: float) -> None:
        self.server.stop(grace).wait(grace + 1)


def build_server(ctx: ServingContext) -> Any:
    """A started gRPC server with every service (``.port``, ``.stop(grace)``).

    grpcio's asyncio server was measured too (bench, small Seldon and V2 calls): it cost
    0.40-0.44 ms of server CPU per call against 0.35-0.37 ms for the thread-pool server."""
    return ThreadedServer(ctx)


def _enable_reflection(server: Any, services: Any, pool: Any) -> None:
    try:
        from grpc_reflection.v1alpha import reflection
    except ImportError:  # reflection is a convenience; serving does not depend on it
        log.warning("grpcio-reflection is not installed: gRPC server reflection is off")
        return
    reflection.enable_server_reflection(list(services) + [reflection.SERVICE_NAME], server,
                                        pool=pool)


_RUNNING: List[Tuple[Any, float]] = []


def start_in_worker(ctx: ServingContext) -> Any:
    """Start this worker's gRPC server; ``stop_all`` (the worker's exit hook) stops it."""
    server = build_server(ctx)
    _RUNNING.append((server, float(ctx.settings.graceful_timeout)))
    log.info("serving gRPC on :%d (Seldon services and inference.GRPCInferenceService)",
             server.port)
    return server


def stop_all() -> None:
    """Stop this process's gRPC servers, letting in-flight calls finish (graceful timeout)."""
    while _RUNNING:
        server, grace = _RUNNING.pop()
        server.stop(grace)
