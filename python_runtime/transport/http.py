"""The WSGI application: dispatch on the protocols' route records, error bodies, CORS,
per-request metrics.

A plain WSGI callable rather than a Flask app: on small requests the framework's own cost is
most of the time spent (see bench/RESULTS.md). ``--debug`` mounts this same callable in Flask.
"""

import logging
import os
import re
import threading
import time
from http import HTTPStatus
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .. import logs
from ..codecs import jsonio
from ..errors import (MethodNotAllowed, MicroserviceError, NotReady, Overloaded,
                     RouteNotFound, from_user_exception)
from ..inference.batching import Admission, Batcher
from ..inference.documents import DocumentCalls
from ..model.component import Component, ModelLock
from ..model.context import LoadState, ServingContext
from ..protocols.catwalk import CatwalkRest
from ..protocols.docs import DocsPage, request_examples
from ..protocols.mlflow import MlflowRest
from ..protocols.modzy import ModzyRest
from ..protocols.odahu import GppiRest, OdahuRest
from ..protocols.openai import OpenAIRest, check_prefix
from ..protocols.openapi import openapi_document
from ..protocols.routes import JSON, Answer, Doc, Route, Router
from ..protocols.seldon import SeldonRest
from ..protocols.triton import TritonRest
from ..protocols.v2 import V2Rest
from ..settings import SettingsError
from ..streams import Stream
from ..tls import server_context

log = logging.getLogger("modelkiln")

_STATUS_LINES = {s.value: "%d %s" % (s.value, s.phrase) for s in HTTPStatus}


def status_line(code: int) -> str:
    return _STATUS_LINES.get(code) or "%d Unknown" % code


# A comma-separated list of header names (RFC 9110 tokens), as a preflight asks for them.
_HEADER_LIST = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$")


def allowed_headers(requested: Optional[str]) -> str:
    """What a CORS preflight may send, echoed only when it is a well-formed list of header
    names (an echo of anything else could split the answer's head)."""
    if requested and len(requested) <= 1024 and _HEADER_LIST.match(requested.strip()):
        return requested.strip()
    return "Content-Type"


class Counted(list):
    """An answer's body. The server calls ``close()`` once it has written the answer (WSGI);
    only then is the request counted in the metrics, so a worker killed before it could answer
    leaves no count for a request no client saw answered."""

    __slots__ = ("count",)

    def close(self) -> None:
        count = getattr(self, "count", None)
        if count is not None:
            self.count = None
            metrics, label, status, started = count
            metrics.observe_request(label, status, time.perf_counter() - started)


class App(object):
    """The microservice as a WSGI callable: every protocol's routes on one port."""

    def __init__(self, ctx: ServingContext, protocols: Sequence[Any],
                 documents: Optional[DocumentCalls] = None,
                 side_ports: Optional[Dict[int, Any]] = None) -> None:
        self.ctx = ctx
        self.metrics = ctx.metrics
        self.metrics_port = ctx.settings.metrics_port
        self.metrics_endpoint = ctx.settings.metrics_endpoint
        self.protocols = list(protocols)
        self.documents = documents  # whole documents and tables (file jobs use them too)
        self.default_protocol = self.protocols[0]
        # a protocol may take a path another one also declares (catwalk's /predict for a
        # catwalk folder, not Seldon's); any other path declared twice is a bug (Router)
        taken = {path: protocol for protocol in self.protocols
                 for path in getattr(protocol, "overrides", ())}
        routes = [route for protocol in self.protocols for route in protocol.routes()
                  if taken.get(route.path, protocol) is protocol]
        for path in ("/seldon.json", "/openapi.json"):
            routes.append(Route(path, ("GET",), self._openapi, self.default_protocol,
                                Doc("This document (OpenAPI 3)")))
        self.router = Router(routes)
        # A protocol that has a port of its own (Modzy's file jobs on PSC_MODEL_PORT):
        # port -> (its router, its protocol for errors on unknown paths)
        self.side_ports = {port: (Router(protocol.routes()), protocol)
                           for port, protocol in (side_ports or {}).items()}
        self.max_body = ctx.limit  # the worker refuses larger bodies before reading them
        self.header_timeout = ctx.settings.header_timeout  # the worker's deadlines
        self.body_timeout = ctx.settings.body_timeout
        self.write_timeout = ctx.settings.write_timeout
        self.budget = ctx.budget  # what the worker's connections buffer
        self.admission = ctx.admission  # the worker's queue limit (MODELKILN_QUEUE_LIMIT)
        self.batcher = ctx.component.batcher  # the worker tells it of requests taken in
        self.refusals = {}  # type: Dict[Any, Tuple[str, List[Tuple[str, str]], bytes]]
        self.refused_since = 0  # refusals not yet in a log line (one a minute at most)
        self.refusals_logged = 0.0
        self.app_threads = app_threads(ctx.settings, ctx.batch_rows)  # the worker's pool
        # threads that ask generators for the pieces of streamed answers (streams.Stream)
        self.stream_threads = ctx.settings.stream_threads
        self.tls_context = server_context(ctx.settings)  # the worker serves HTTPS with it
        self.openapi = jsonio.dumps(openapi_document(routes, ctx.settings,
                                                     *self._examples()))
        self.tracing = ctx.tracing
        self.track = logs.STATE.json or self.tracing is not None  # per-request context

    def _examples(self) -> Tuple[Dict[str, Any], Dict[str, str]]:
        """Request examples for the OpenAPI document (what the /docs page's "Try it out"
        sends), and the V2 path parameters filled in; never a reason not to serve."""
        parameters = {}  # type: Dict[str, str]
        for protocol in self.protocols:
            if protocol.name == "v2":
                parameters = {"model_name": protocol.model,
                              "model_version": protocol.version or "1"}
        try:
            return request_examples(self.ctx, self.router), parameters
        except Exception:
            log.exception("no request examples in the OpenAPI document")
            return {}, parameters

    def ready_or_failed(self) -> bool:
        """Whether load() (and the worker's gRPC server) has finished, either way."""
        return self.ctx.state.ready or self.ctx.state.error is not None

    # -- WSGI --------------------------------------------------------------------------

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        port = environ.get("modelkiln.local_port")  # set by worker.LoopWorker
        if port is None:
            sock = environ.get("gunicorn.socket")
            port = sock.getsockname()[1] if sock is not None else None
        if port == self.metrics_port:
            return self.serve_metrics(environ, start_response)
        if self.side_ports and port in self.side_ports:
            environ["modelkiln.side"] = self.side_ports[port]
        if not self.track:
            return self.serve(environ, start_response)
        logs.enter(environ)  # log lines name the request
        try:
            if self.tracing is None:
                return self.serve(environ, start_response)
            return self.tracing.wsgi(environ, start_response, self.serve,
                                     logs.request_id(environ))
        finally:
            logs.leave()

    def serve(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        """Answer one request on the REST port."""
        started = time.perf_counter()
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        side = environ.get("modelkiln.side")
        route, params = (side[0] if side else self.router).match(path)
        if self.tracing is not None and route is not None:
            environ["modelkiln.route"] = route.label
        extra = None
        try:
            if route is None:
                raise RouteNotFound("no route %s; see %s for the routes served"
                                    % (path, self._protocol_of(None, path, side).docs_path))
            refused = environ.get("modelkiln.refused")  # by the worker, before the body
            if refused is not None:
                raise Overloaded(refused[1])
            if method not in route.methods:
                if method == "OPTIONS":
                    return self._preflight(environ, start_response, route.methods)
                raise MethodNotAllowed(
                    "%s does not accept %s (allowed: %s)"
                    % (path, method, ", ".join(route.methods)), ", ".join(route.methods))
            answer = route.handler(environ, params)
            if len(answer) == 4:
                extra = answer[3]
        except MicroserviceError as exc:
            answer = self._error(route, exc, path, side=side)
        except Exception as exc:  # user code and anything unforeseen: never a dead worker
            answer = self._error(route, from_user_exception(exc), path, exc, side)
        status, body = answer[0], answer[1]
        if isinstance(body, Stream):
            return self._stream(environ, start_response, route, body, answer, started)
        headers = [("Content-Type", answer[2]), ("Content-Length", str(len(body)))]
        if extra:
            headers.extend(extra)
        if "HTTP_ORIGIN" in environ:
            headers.append(("Access-Control-Allow-Origin", "*"))
        if status == 503 and route is not None and environ.get("modelkiln.refused"):
            headers.append(("Retry-After", str(Overloaded.retry_after)))
        if status == 405 and route is not None:
            headers.append(("Allow", ", ".join(route.methods)))
        start_response(status_line(status), headers)
        answer_body = Counted([b"" if method == "HEAD" else body])
        if self.metrics is not None:
            answer_body.count = (self.metrics, route.label if route is not None
                                 else "<unmatched>", status, started)
        return answer_body

    def _stream(self, environ: Dict[str, Any], start_response: Callable[..., Any],
                route: Route, stream: Stream, answer: Answer, started: float) -> Stream:
        """A streamed answer: its head now (no Content-Length: the worker writes it chunked),
        its pieces as the worker asks for them; counted once the stream is closed."""
        headers = [("Content-Type", answer[2])]
        if len(answer) == 4 and answer[3]:
            headers.extend(answer[3])
        if "HTTP_ORIGIN" in environ:
            headers.append(("Access-Control-Allow-Origin", "*"))
        start_response(status_line(answer[0]), headers)
        metrics = self.metrics
        if metrics is not None:
            label, status = route.label, answer[0]
            stream.counted = lambda: metrics.observe_request(label, status,
                                                             time.perf_counter() - started)
        return stream

    def refusal(self, path: str, origin: bool) -> Tuple[str, List[Tuple[str, str]], bytes,
                                                         Counted]:
        """The answer to a model request the worker's full queue refuses (503, Retry-After;
        the error body of the path's protocol), made once per protocol: under overload the
        event loop answers thousands of these a second, so a refusal costs no routing, no
        error path and no log line of its own (one WARNING a minute counts them; the metrics
        count each). Returns the status line, headers, body and its WSGI result (whose
        ``close()`` counts the request)."""
        started = time.perf_counter()
        route, _ = self.router.match(path)
        protocol = self._protocol_of(route, path)
        made = self.refusals.get(protocol)
        if made is None:
            error = Overloaded(self.admission.message)
            status, body, ctype = protocol.error_answer(error)
            made = (status_line(status),
                    [("Content-Type", ctype), ("Content-Length", str(len(body))),
                     ("Retry-After", str(Overloaded.retry_after))], body)
            self.refusals[protocol] = made
        line, headers, body = made
        if origin:
            headers = headers + [("Access-Control-Allow-Origin", "*")]
        result = Counted([body])
        if self.metrics is not None:
            result.count = (self.metrics, route.label if route is not None else "<unmatched>",
                            503, started)
        self.refused_since += 1
        now = time.monotonic()
        if now - self.refusals_logged >= 60.0:
            log.warning("the queue limit (MODELKILN_QUEUE_LIMIT=%d) refused %d request(s) "
                        "with 503 since the last such line", self.admission.limit,
                        self.refused_since)
            self.refused_since, self.refusals_logged = 0, now
        return line, headers, body, result

    def _protocol_of(self, route: Optional[Route], path: str, side: Any = None) -> Any:
        if route is not None:
            return route.protocol
        if side is not None:
            return side[1]
        for protocol in self.protocols:  # an unknown path under a protocol's prefix
            prefix = getattr(protocol, "prefix", None)
            if prefix and (path == prefix or path.startswith(prefix + "/")):
                return protocol
        return self.default_protocol

    def _error(self, route: Optional[Route], error: MicroserviceError, path: str,
               cause: Optional[BaseException] = None, side: Any = None) -> Answer:
        if isinstance(error, NotReady):  # probes while loading: expected, not an error
            log.debug("%s: %d %s", path, error.status_code, error.message)
        elif error.status_code >= 500 and cause is not None:
            log.error("%s failed: %s", path, error.message, exc_info=cause)
        elif error.status_code >= 500:
            log.error("%s failed: %s", path, error.message)
        else:
            log.info("%s: %d %s", path, error.status_code, error.message)
        return self._protocol_of(route, path, side).error_answer(error)

    def _preflight(self, environ: Dict[str, Any], start_response: Callable[..., Any],
                   methods: Sequence[str]) -> List[bytes]:
        headers = [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Methods", ", ".join(tuple(methods) + ("OPTIONS",))),
            ("Access-Control-Allow-Headers",
             allowed_headers(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"))),
            ("Content-Length", "0"),
        ]
        start_response(status_line(200), headers)
        return [b""]

    def _openapi(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, self.openapi, JSON

    # -- metrics port -------------------------------------------------------------------

    def serve_metrics(self, environ: Dict[str, Any], start_response: Callable[..., Any]
                      ) -> List[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == self.metrics_endpoint and self.metrics is not None:
            body, ctype = self.metrics.exposition()
            status = 200
        else:
            status, body, ctype = self._error(
                None, RouteNotFound("the metrics port serves only %s" % self.metrics_endpoint),
                path)
        start_response(status_line(status), [("Content-Type", ctype),
                                             ("Content-Length", str(len(body)))])
        return [body]


class PortApp(object):
    """The app as served on one of its ports by a server that does not say which port a
    request came to (the development server: metrics, Modzy's port)."""

    def __init__(self, app: App, port: int) -> None:
        self.app = app
        self.port = port

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        environ["modelkiln.local_port"] = self.port
        return self.app(environ, start_response)


def add_batching(ctx: ServingContext) -> None:
    """The worker's queue limit and, with MODELKILN_MAX_BATCH_SIZE > 1 (for a Triton folder:
    config.pbtxt's dynamic_batching), its batcher (``inference.batching``), shared by the
    REST app and the gRPC server."""
    settings, component = ctx.settings, ctx.component
    ctx.admission = Admission(settings.queue_limit, ctx.metrics)
    ctx.batch_rows = 1
    plan = getattr(component.obj, "batching", None)  # a model that says how it batches
    if callable(plan):
        found = plan()
        if found is None:
            return
        rows, seconds, preferred = found
        list_call = component.obj.execute_requests  # type: Any  (guard() wraps it)
    elif settings.max_batch_size > 1:
        rows, seconds = settings.max_batch_size, settings.max_batch_time
        preferred, list_call = getattr(component.obj, "preferred_batch_sizes", ()), None
    else:
        return
    if component.batcher is None:
        if component.lock is None:  # batches are one model call at a time in any case
            component.lock = ctx.lock = ModelLock()
        component.batcher = Batcher(
            lambda method, X, names, meta: component.endpoint(method).call_high(
                X, names, meta=meta),
            component.lock, rows, seconds, preferred, ctx.metrics, list_call=list_call)
        component.lock.elsewhere = component.batcher.run_parked
        component.guard(component.lock)
    ctx.batch_rows = component.batcher.max_rows


def app_threads(settings: Any, batch_rows: int = 1) -> int:
    """Threads a worker runs requests on: GUNICORN_THREADS, or with adaptive batching enough
    for two batches of one-row requests to wait (256 at most)."""
    if batch_rows > 1:
        return max(settings.threads, min(256, 2 * batch_rows))
    return settings.threads


def create_app(settings: Any, component: Component, metrics: Any = None,
               load_state: Optional[LoadState] = None, tracing: Any = None,
               stop: Optional[Callable[[], Any]] = None) -> App:
    """The WSGI application for ``component``: Seldon's REST API, V2 and ODAHU's API on one
    port, and Modzy's file-job API on PSC_MODEL_PORT when it is set (``stop`` ends the
    server for its /shutdown); a catwalk folder's API, or a Modzy template folder's (on the
    REST port, which PSC_MODEL_PORT names then), ahead of them; for a GPPI folder, ODAHU's
    API as its docker-rest image answers it; for a Triton Python-backend folder, V2 as Triton
    answers it."""
    ctx = ServingContext(settings, component, metrics, load_state, tracing)
    add_batching(ctx)
    seldon, v2 = SeldonRest(ctx), V2Rest(ctx)
    documents = DocumentCalls(ctx, seldon.calls, v2.calls, v2.model)
    side = {}  # type: Dict[int, Any]
    if settings.modzy_port is not None:
        side[settings.modzy_port] = ModzyRest(ctx, documents, stop)
    odahu = GppiRest(ctx) if settings.model_format == "gppi" else OdahuRest(ctx, documents)
    protocols = [seldon, v2, odahu]  # type: List[Any]
    if settings.model_format == "catwalk":
        protocols.insert(0, CatwalkRest(ctx))  # its errors for unknown paths, its /predict
    if settings.model_format == "mlflow":  # MLflow's scoring protocol, its 404 and 405
        protocols.insert(0, MlflowRest(ctx))
    if settings.model_format == "triton":  # V2 as Triton answers it, and its /config
        protocols.insert(0, TritonRest(ctx))
    if settings.model_format == "modzy":  # Modzy's API on the REST port, its errors there
        protocols.insert(0, ModzyRest(ctx, documents, stop, file_model=component.obj))
    if component.streams and component.lock is None and settings.threads == 1:
        # one call at a time into the model, as without streams: the pieces are asked for
        # on the worker's stream threads, the other requests on its loop
        component.lock = ctx.lock = ModelLock()
    openai = OpenAIRest(ctx, settings.openai_prefix, v2.model)
    if openai.methods:
        router = Router([route for protocol in protocols for route in protocol.routes()])
        why = check_prefix(settings.openai_prefix,
                           lambda path: router.match(path)[0] is not None)
        if why is not None:
            raise SettingsError("MODELKILN_OPENAI_PREFIX=%s cannot hold the OpenAI routes: %s"
                                % (settings.openai_prefix, why))
        protocols.append(openai)
    if settings.docs:
        owned = {route.path for protocol in protocols for route in protocol.routes()}
        protocols.append(DocsPage(ctx, v2.model, redirect_root="/" not in owned))
    return App(ctx, protocols, documents, side)


# The exit code gunicorn's master treats as "a worker failed to boot": it stops the server with
# it instead of starting another worker.
EXIT_LOAD_FAILED = 3


def load_model(component: Component, state: LoadState,
               then: Optional[Callable[[], Any]] = None, retries: int = 0,
               on_failure: str = "unready") -> None:
    """Run the user's ``load()``, then ``then`` (this worker's gRPC server); only then is the
    worker ready. A failing ``load()`` is tried ``retries`` more times with backoff; then
    ``on_failure`` says what happens: "exit" ends the process with EXIT_LOAD_FAILED,
    "unready" keeps it up answering 503."""

    def attempt() -> Optional[str]:
        try:
            if component.load is not None and component.batcher is not None:
                component.batcher.run_here(component.load)  # the thread batches run on
            elif component.load is not None:
                component.load()
        except Exception as exc:
            log.exception("load() failed")
            return "load() failed: %s: %s" % (type(exc).__name__, exc)
        if then is not None:
            try:
                then()
            except Exception as exc:
                log.exception("the worker cannot serve gRPC")
                return "the gRPC server did not start: %s: %s" % (type(exc).__name__, exc)
        return None

    started = time.time()
    failure = None
    for number in range(retries + 1):
        failure = attempt()
        if failure is None:
            state.ready = True
            if component.load is not None:
                log.info("load() finished in %.2f s", time.time() - started)
            return
        if number < retries:
            pause = min(30.0, 2.0 ** number)
            log.warning("%s; trying again in %.0f s (attempt %d of %d, "
                        "MODELKILN_LOAD_RETRIES)", failure, pause, number + 2, retries + 1)
            time.sleep(pause)
    state.error = failure
    if on_failure == "exit":
        log.critical("%s (after %d attempt(s)); the server exits with code %d "
                     "(MODELKILN_ON_LOAD_FAILURE=exit; 'unready' keeps it up answering "
                     "503)", failure, retries + 1, EXIT_LOAD_FAILED)
        logging.shutdown()
        os._exit(EXIT_LOAD_FAILED)
    log.error("%s (after %d attempt(s)); /ready and predictions answer 503 "
              "(MODELKILN_ON_LOAD_FAILURE=unready)", failure, retries + 1)


def run_load(component: Component, state: LoadState,
             then: Optional[Callable[[], Any]] = None, retries: int = 0,
             on_failure: str = "unready") -> threading.Thread:
    """``load_model`` in a thread, so /live answers while it works (the development server;
    the event-loop worker runs it on its own thread instead)."""

    def work() -> None:
        load_model(component, state, then, retries, on_failure)

    thread = threading.Thread(target=work, name="modelkiln-load", daemon=True)
    thread.start()
    return thread
