"""The WSGI application: routing, request bodies, error bodies, CORS, per-request metrics.

A plain WSGI callable rather than a Flask app: on small requests the framework's own cost is
most of the time spent (see bench/RESULTS.md). ``--debug`` mounts this same callable in Flask.
"""

import logging
import threading
import time
from http import HTTPStatus
from typing import Any, Callable, Dict, List, Optional, Tuple

from .body import json_text, read_body, request_message
from .codecs import jsonio
from .component import Component
from .errors import (
    MethodNotAllowed,
    MicroserviceError,
    NotReady,
    RouteNotFound,
    from_user_exception,
)
from .metadata import build_metadata, metadata_or_error
from .openapi import openapi_document
from .services import Services

log = logging.getLogger("modelkiln")

# (path, methods, handler name). Every route is served whatever the SERVICE_TYPE.
ROUTES = (
    ("/predict", ("GET", "POST"), "predict"),
    ("/api/v1.0/predictions", ("POST",), "predict"),
    ("/api/v0.1/predictions", ("POST",), "predict"),
    ("/send-feedback", ("GET", "POST"), "send_feedback"),
    ("/api/v1.0/feedback", ("POST",), "send_feedback"),
    ("/api/v0.1/feedback", ("POST",), "send_feedback"),
    ("/transform-input", ("GET", "POST"), "transform_input"),
    ("/transform-output", ("GET", "POST"), "transform_output"),
    ("/route", ("GET", "POST"), "route"),
    ("/aggregate", ("GET", "POST"), "aggregate"),
    ("/health/ping", ("GET",), "ping"),
    ("/health/status", ("GET",), "health_status"),
    ("/api/v1.0/health/status", ("GET",), "health_status"),
    ("/metadata", ("GET",), "metadata"),
    ("/api/v1.0/metadata", ("GET",), "metadata"),
    ("/seldon.json", ("GET",), "openapi"),
    ("/openapi.json", ("GET",), "openapi"),
    ("/live", ("GET",), "live"),
    ("/ready", ("GET",), "ready"),
)
MESSAGE_ROUTES = ("predict", "send_feedback", "transform_input", "transform_output", "route",
                  "aggregate")
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
_STATUS_LINES = {s.value: "%d %s" % (s.value, s.phrase) for s in HTTPStatus}

Answer = Tuple[int, bytes, str]


def status_line(code: int) -> str:
    return _STATUS_LINES.get(code) or "%d Unknown" % code


class LoadState(object):
    """Whether this worker's ``load()`` has finished, is running or failed."""

    def __init__(self) -> None:
        self.ready = False
        self.error = None  # type: Optional[str]

    def check(self) -> None:
        if self.ready:
            return
        if self.error is not None:
            raise NotReady("model failed to load: %s" % self.error)
        raise NotReady("model is still loading (load() has not finished)")


class App(object):
    """The microservice as a WSGI callable."""

    def __init__(self, settings: Any, component: Component, metrics: Any = None,
                 load_state: Optional[LoadState] = None) -> None:
        self.settings = settings
        self.component = component
        self.metrics = metrics
        self.state = load_state or LoadState()
        self.services = Services(component, metrics, settings.request_path, settings.unit_id)
        self.limit = settings.max_request_size
        self.passthrough = settings.payload_passthrough
        self.metrics_port = settings.metrics_port
        self.metrics_endpoint = settings.metrics_endpoint
        self.metadata, self.metadata_error = build_metadata(
            component.init_metadata, settings.model_metadata, settings.unit_image)
        if self.metadata_error:
            log.error("%s", self.metadata_error)
        self.openapi = jsonio.dumps(openapi_document(ROUTES, settings))
        self.lock = component.lock
        self.routes = {}  # type: Dict[str, Tuple[Tuple[str, ...], Callable[[Dict[str, Any]], Answer]]]
        for path, methods, name in ROUTES:
            if name in MESSAGE_ROUTES:
                handler = self._message_handler(name)
            else:
                handler = getattr(self, "_" + name)
            self.routes[path] = (methods + (("HEAD",) if "GET" in methods else ()), handler)

    # -- WSGI --------------------------------------------------------------------------

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        started = time.perf_counter()
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        sock = environ.get("gunicorn.socket")
        if sock is not None and sock.getsockname()[1] == self.metrics_port:
            return self.serve_metrics(environ, start_response)
        entry = self.routes.get(path)
        label = path if entry is not None else "<unmatched>"
        try:
            if entry is None:
                raise RouteNotFound("no route %s; see /seldon.json for the routes served" % path)
            if method not in entry[0]:
                if method == "OPTIONS":
                    return self._preflight(environ, start_response, entry[0])
                raise MethodNotAllowed(
                    "%s does not accept %s (allowed: %s)" % (path, method, ", ".join(entry[0])),
                    ", ".join(entry[0]))
            status, body, ctype = entry[1](environ)
        except MicroserviceError as exc:
            status, body, ctype = self._error(exc, path)
        except Exception as exc:  # user code and anything unforeseen: never a dead worker
            status, body, ctype = self._error(from_user_exception(exc), path, exc)
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))]
        if "HTTP_ORIGIN" in environ:
            headers.append(("Access-Control-Allow-Origin", "*"))
        if status == 405 and entry is not None:
            headers.append(("Allow", ", ".join(entry[0])))
        start_response(status_line(status), headers)
        if self.metrics is not None:
            self.metrics.observe_request(label, status, time.perf_counter() - started)
        return [b"" if method == "HEAD" else body]

    def _error(self, error: MicroserviceError, path: str, cause: Optional[BaseException] = None
               ) -> Answer:
        if error.status_code >= 500 and cause is not None:
            log.error("%s failed: %s", path, error.message, exc_info=cause)
        elif error.status_code >= 500:
            log.error("%s failed: %s", path, error.message)
        else:
            log.info("%s: %d %s", path, error.status_code, error.message)
        return error.status_code, jsonio.dumps(error.to_body()), JSON

    def _preflight(self, environ: Dict[str, Any], start_response: Callable[..., Any],
                   methods: Tuple[str, ...]) -> List[bytes]:
        headers = [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Methods", ", ".join(methods + ("OPTIONS",))),
            ("Access-Control-Allow-Headers",
             environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "Content-Type")),
            ("Content-Length", "0"),
        ]
        start_response(status_line(200), headers)
        return [b""]

    # -- handlers -----------------------------------------------------------------------

    def _message_handler(self, name: str) -> Callable[[Dict[str, Any]], Answer]:
        call = getattr(self.services, name)
        passthrough = self.passthrough and name == "predict"
        check_status = name == "predict"

        def handle(environ: Dict[str, Any]) -> Answer:
            self.state.check()
            body = read_body(environ, self.limit)
            if passthrough:
                request = json_text(environ, body)  # type: Any
            else:
                request = request_message(environ, body)
            if self.lock is not None:
                with self.lock:
                    answer = call(request)
            else:
                answer = call(request)
            return self._encode(answer, check_status)

        return handle

    @staticmethod
    def _encode(answer: Any, check_status: bool) -> Answer:
        status = 200
        if isinstance(answer, (bytes, bytearray)):
            return status, bytes(answer), JSON
        if isinstance(answer, str):
            return status, answer.encode("utf-8"), JSON
        if check_status and isinstance(answer, dict):
            # A raw answer may choose its HTTP status through status.code (Seldon does this).
            code = answer.get("status", {}).get("code") if isinstance(
                answer.get("status"), dict) else None
            if isinstance(code, int) and 100 <= code <= 599:
                status = code
        return status, jsonio.dumps(answer), JSON

    def _ping(self, environ: Dict[str, Any]) -> Answer:
        return 200, b"pong", TEXT

    def _live(self, environ: Dict[str, Any]) -> Answer:
        return 200, b'{"status":"alive"}', JSON

    def _ready(self, environ: Dict[str, Any]) -> Answer:
        self.state.check()
        return 200, b'{"status":"ready"}', JSON

    def _health_status(self, environ: Dict[str, Any]) -> Answer:
        self.state.check()
        return self._encode(self.services.health_status(), False)

    def _metadata(self, environ: Dict[str, Any]) -> Answer:
        return 200, jsonio.dumps(metadata_or_error(self.metadata, self.metadata_error)), JSON

    def _openapi(self, environ: Dict[str, Any]) -> Answer:
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
                RouteNotFound("the metrics port serves only %s" % self.metrics_endpoint), path)
        start_response(status_line(status), [("Content-Type", ctype),
                                             ("Content-Length", str(len(body)))])
        return [body]


class MetricsApp(object):
    """The metrics port as its own WSGI callable (used by the development server)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        return self.app.serve_metrics(environ, start_response)


def create_app(settings: Any, component: Component, metrics: Any = None,
               load_state: Optional[LoadState] = None) -> App:
    """The WSGI application for ``component``."""
    return App(settings, component, metrics, load_state)


def run_load(component: Component, state: LoadState) -> threading.Thread:
    """Run the user's ``load()`` in a thread so /live answers while it works."""

    def work() -> None:
        started = time.time()
        try:
            if component.load is not None:
                component.load()
        except Exception as exc:
            state.error = "%s: %s" % (type(exc).__name__, exc)
            log.exception("load() failed; /ready and /health/status answer 503")
            return
        state.ready = True
        if component.load is not None:
            log.info("load() finished in %.2f s", time.time() - started)

    thread = threading.Thread(target=work, name="modelkiln-load", daemon=True)
    thread.start()
    return thread
