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
from typing import Any, Callable, Dict, List, Tuple

from .context import ServingContext
from .errors import MicroserviceError, from_user_exception

log = logging.getLogger("modelkiln")

# HTTP status of an error -> gRPC status code name (README: "gRPC status codes")
STATUS_FOR_HTTP = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                   404: "NOT_FOUND", 405: "UNIMPLEMENTED", 409: "ABORTED",
                   413: "RESOURCE_EXHAUSTED", 415: "INVALID_ARGUMENT",
                   429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 501: "UNIMPLEMENTED",
                   503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def status_for(http_status: int) -> str:
    """The gRPC code name for an error that REST answers with ``http_status``."""
    found = STATUS_FOR_HTTP.get(http_status)
    if found:
        return found
    return "FAILED_PRECONDITION" if 400 <= http_status < 500 else "INTERNAL"


def _method_handler(grpc: Any, metrics: Any, full_method: str,
                    call: Callable[[Any], Any], request_class: Any,
                    response_class: Any) -> Any:
    def handle(request: Any, context: Any) -> Any:
        started = time.perf_counter()
        error = None  # type: Any
        try:
            answer = call(request)
        except MicroserviceError as exc:
            error = exc
        except Exception as exc:  # user code: the error names it; the server stays up
            error = from_user_exception(exc)
            if error.status_code >= 500:
                log.error("%s failed: %s", full_method, error.message, exc_info=exc)
        code = "OK" if error is None else status_for(error.status_code)
        if metrics is not None:
            metrics.observe_grpc(full_method, code, time.perf_counter() - started)
        if error is None:
            return answer
        context.set_trailing_metadata((("modelkiln-http-status", str(error.status_code)),
                                       ("modelkiln-reason", error.reason)))
        context.abort(getattr(grpc.StatusCode, code), error.message)

    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=request_class.FromString,
        response_serializer=response_class.SerializeToString)


def build_server(ctx: ServingContext) -> Tuple[Any, int]:
    """A started gRPC server with every service; (server, bound port)."""
    import grpc
    from concurrent import futures

    from . import protos as protos_module
    from .protocols.grpc_seldon import SeldonGrpc
    from .protocols.grpc_v2 import V2Grpc

    settings = ctx.settings
    protos = protos_module.load()
    limit = settings.grpc_max_message_size
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.grpc_threads,
                                   thread_name_prefix="modelkiln-grpc"),
        options=[("grpc.so_reuseport", 1), ("grpc.max_receive_message_length", limit),
                 ("grpc.max_send_message_length", limit)])
    implemented: Dict[str, Dict[str, Callable[[Any], Any]]] = {}
    for protocol in (SeldonGrpc(ctx, protos), V2Grpc(ctx, protos)):
        implemented.update(protocol.handlers())
    handlers = []
    for service, methods in protos.services.items():
        calls = implemented.get(service, {})
        table = {}
        for method, request_type, response_type in methods:
            if method in calls:
                table[method] = _method_handler(
                    grpc, ctx.metrics, "/%s/%s" % (service, method), calls[method],
                    protos.message(request_type), protos.message(response_type))
        handlers.append(grpc.method_handlers_generic_handler(service, table))
    server.add_generic_rpc_handlers(handlers)
    _enable_reflection(server, list(protos.services), protos.pool)
    port = server.add_insecure_port("%s:%d" % (settings.bind_host, settings.grpc_port))
    if not port:
        raise RuntimeError("cannot listen for gRPC on %s:%d"
                           % (settings.bind_host, settings.grpc_port))
    server.start()
    return server, port


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
    server, port = build_server(ctx)
    _RUNNING.append((server, float(ctx.settings.graceful_timeout)))
    log.info("serving gRPC on :%d (Seldon services and inference.GRPCInferenceService)", port)
    return server


def stop_all() -> None:
    """Stop this process's gRPC servers, letting in-flight calls finish (graceful timeout)."""
    while _RUNNING:
        server, grace = _RUNNING.pop()
        server.stop(grace).wait(grace + 1)
