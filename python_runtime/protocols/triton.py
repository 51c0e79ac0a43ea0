"""V2 REST as Triton answers it, for a Triton Python-backend folder (``model.formats.triton``);
``tests/compat_triton`` compares the two. It takes V2's paths (``overrides``) and adds
Triton's configuration endpoint:

- ``GET /v2/models/{m}[/versions/{v}]/config``: the completed configuration as Triton's JSON;
- model and server readiness: 200 with an empty body (``text/plain``), an unknown model's
  readiness 400 ``{"error":"Model version not ready"}``;
- metadata ``{name, versions, platform: "python", inputs, outputs}`` (``[-1] + dims`` with
  batching);
- ``infer``: ``inference.triton``'s checks and answers (JSON, or the binary extension); an
  unknown model or version is Triton's 404 ``Request for unknown model: ...``; the model's own
  errors (an error response, execute raising) are 500 with ``Content-Type: text/plain``, as
  Triton sends them; a path no protocol serves is ``{"error":"Not Found"}``.

Seldon's and ODAHU's routes stay on the same port.
"""

import itertools
from typing import Any, Dict, List

from .. import __version__, tracing
from ..codecs import jsonio
from ..codecs.v2 import HEADER_LENGTH, join_body, split_body
from ..errors import (BadDataError, MethodNotAllowed, MicroserviceError, RouteNotFound,
                      as_error)
from ..inference.v2 import V2Calls
from ..model.context import ServingContext
from ..model.formats.triton import TritonModelError
from . import schemas
from ..streams import EVENTS, Stream, sse
from .body import json_object, read_body
from .routes import JSON, Answer, Doc, Route

GET = ("GET",)
TEXT = "text/plain"
BINARY = "application/octet-stream"
EXTENSIONS = ["binary_tensor_data", "model_configuration", "parameters"]


def unknown_model(name: str, version: str) -> RouteNotFound:
    """Triton's answer for a model or version it does not serve."""
    if version:
        return RouteNotFound("Request for unknown model: '%s' version %s is not found"
                             % (name, version))
    return RouteNotFound("Request for unknown model: '%s' is not found" % name)


class UnknownModel(RouteNotFound):
    """An unknown model or version on ``infer`` (Triton sends it as ``text/plain``)."""


class Decoupled(MicroserviceError):
    """Inference asked of a decoupled model on REST (Triton: 501, as ``text/plain``)."""

    status_code = 501


class TritonRest(object):
    """Triton's V2 REST for the served Triton model."""

    name = "triton"
    prefix = "/v2"
    docs_path = "/openapi.json"
    error_schema = "V2Error"

    def __init__(self, ctx: ServingContext) -> None:
        self.ctx = ctx
        self.model = ctx.component.obj
        self.calls = V2Calls(ctx.component, ctx.metrics, ctx.signature)
        self.config = jsonio.dumps(self.model.config_json)
        self.metadata = jsonio.dumps(dict(
            [("name", self.model.name), ("versions", [self.model.version]),
             ("platform", "python")] + list(
                (key, self.model.init_metadata()[key]) for key in ("inputs", "outputs"))))

    @property
    def overrides(self) -> List[str]:
        return [route.path for route in self.routes()]

    def error_answer(self, error: MicroserviceError) -> Answer:
        body = jsonio.dumps({"error": error.message})
        if isinstance(error, RouteNotFound) and not isinstance(error, UnknownModel) and \
                not error.message.startswith("Request for unknown model"):
            return 404, b'{"error":"Not Found"}', TEXT
        if isinstance(error, MethodNotAllowed):  # (its message starts with the path)
            generating = error.message.split(" ", 1)[0].endswith(("/generate",
                                                                  "/generate_stream"))
            # Triton's generate routes say it as JSON, its others as text
            return 405, b'{"error":"Method Not Allowed"}', JSON if generating else TEXT
        plain = isinstance(error, (TritonModelError, UnknownModel, Decoupled))
        return error.status_code, body, TEXT if plain else JSON

    def routes(self) -> List[Route]:
        base = "/v2/models/{model_name}"
        versioned = base + "/versions/{model_version}"
        metadata = Doc("Model metadata (Triton's V2)", response=schemas.ref("V2ModelMetadata"),
                       errors=((404, "Unknown model or version"),))
        ready = Doc("Model readiness (Triton's: 200 with no body)",
                    errors=((400, "Not ready, or unknown"),))
        config = Doc("The model's configuration, completed as Triton completes it (Triton's "
                     "JSON)", errors=((404, "Unknown model or version"),))
        infer = Doc("Inference (Triton's V2); JSON, or JSON then binary tensors when "
                    "Inference-Header-Content-Length is given",
                    request=schemas.ref("V2InferenceRequest"),
                    response=schemas.ref("V2InferenceResponse"),
                    errors=((400, "Bad request (Triton's message)"),
                            (404, "Unknown model or version"),
                            (500, "The model's error response, or execute raised")),
                    content_types=(JSON, BINARY), response_types=(JSON, BINARY))
        handle_infer = tracing.phased(self.ctx.tracing, "infer", self._decode, self._call,
                                      self._encode)
        generate = Doc("Generate (Triton's generate extension): a JSON object of inputs by "
                       "name (and id, parameters); the outputs by name. A decoupled model "
                       "must send exactly one response",
                       request={"type": "object", "additionalProperties": True},
                       errors=((400, "Bad request, or the model's error (Triton's message)"),
                               (404, "Unknown model or version")))
        stream = Doc("Generate, streamed (Triton's generate extension): one Server-Sent Event "
                     "per response", request={"type": "object", "additionalProperties": True},
                     errors=generate.errors, response_types=(EVENTS,))
        return [
            Route("/v2", GET, self._server_metadata, self,
                  Doc("Server metadata (V2)", response=schemas.ref("V2ServerMetadata"))),
            Route("/v2/health/live", GET, self._live, self, Doc("Server liveness (V2)")),
            Route("/v2/health/ready", GET, self._server_ready, self,
                  Doc("Server readiness (V2)", errors=((400, "Not ready"),))),
            Route(base, GET, self._metadata, self, metadata),
            Route(versioned, GET, self._metadata, self, metadata),
            Route(base + "/ready", GET, self._model_ready, self, ready),
            Route(versioned + "/ready", GET, self._model_ready, self, ready),
            Route(base + "/config", GET, self._config, self, config),
            Route(versioned + "/config", GET, self._config, self, config),
            Route(base + "/infer", ("POST",), handle_infer, self, infer),
            Route(versioned + "/infer", ("POST",), handle_infer, self, infer),
        ] + [Route(path + "/generate", ("POST",), self._generate, self, generate)
             for path in (base, versioned)] + [
            Route(path + "/generate_stream", ("POST",), self._generate_stream, self, stream)
            for path in (base, versioned)]

    # -- handlers -----------------------------------------------------------------------

    def _known(self, params: Dict[str, str]) -> bool:
        version = params.get("model_version")
        return params.get("model_name") == self.model.name and version in (
            None, "", self.model.version)

    def _check_model(self, params: Dict[str, str], error: Any = RouteNotFound) -> None:
        if not self._known(params):
            found = unknown_model(params.get("model_name") or "", params.get("model_version")
                                  or "")
            raise error(found.message)

    def _server_metadata(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, jsonio.dumps({"name": "modelkiln", "version": __version__,
                                  "extensions": EXTENSIONS}), JSON

    def _live(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, b"", TEXT

    def _ready(self) -> None:
        try:
            self.ctx.state.check()
        except MicroserviceError as exc:
            raise MicroserviceError(exc.message, status_code=400) from exc

    def _server_ready(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self._ready()
        return 200, b"", TEXT

    def _model_ready(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        if not self._known(params) or not self.ctx.state.ready:
            return 400, b'{"error":"Model version not ready"}', TEXT
        return 200, b"", TEXT

    def _metadata(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self._check_model(params)
        return 200, self.metadata, JSON

    def _config(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self._check_model(params)
        return 200, self.config, JSON

    def _decode(self, environ: Dict[str, Any], params: Dict[str, str]) -> Any:
        self._check_model(params, UnknownModel)
        ctx = self.ctx
        ctx.state.check()
        body = read_body(environ, ctx.limit)
        if self.model.decoupled:  # (whatever the body: Triton does not read it)
            raise Decoupled("HTTP end point doesn't support models with decoupled "
                            "transaction policy")
        header, binary = split_body(body, environ.get(HEADER_LENGTH))
        if not header.strip():
            raise BadDataError("failed to parse the request JSON buffer: The document is "
                               "empty.")
        return jsonio.loads(header), binary

    def _call(self, request: Any) -> Any:
        return self.ctx.call_model(self.calls.infer, request[0], request[1])

    def _encode(self, result: Any) -> Answer:
        response, chunks = result
        if not chunks:
            return 200, jsonio.dumps(response), JSON
        data, length = join_body(response, chunks)
        return 200, data, BINARY, [("Inference-Header-Content-Length", str(length))]

    # -- the generate extension -------------------------------------------------------------

    def _generation(self, environ: Dict[str, Any], params: Dict[str, str]) -> Any:
        """The generate request's answers (``TritonCalls.generate``)."""
        self._check_model(params)
        ctx = self.ctx
        ctx.state.check()
        request = json_object(environ, ctx.limit, "failed to parse the request JSON buffer: "
                              "The document is empty.", "attempt to get members for "
                              "non-object")
        if "parameters" in request and not isinstance(request["parameters"], dict):
            raise BadDataError("Expected JSON object for keyword: 'parameters'")
        return ctx.call_model(self.calls.triton.generate, request)

    def _generate(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        """Exactly one response: its outputs; else Triton's error, with 400 when the first
        response is an error and 200 otherwise, as Triton answers."""
        try:
            answers = list(self._generation(environ, params))
        except TritonModelError as exc:  # execute raised
            return 400, jsonio.dumps({"error": exc.message}), JSON
        if len(answers) == 1 and not isinstance(answers[0], TritonModelError):
            return 200, jsonio.dumps(answers[0]), JSON
        if len(answers) == 1:
            return 400, jsonio.dumps({"error": answers[0].message}), JSON
        status = 400 if answers and isinstance(answers[0], TritonModelError) else 200
        return status, jsonio.dumps({"error": ONE_RESPONSE}), JSON

    def _generate_stream(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        """One event per response, as they come; the status is the first response's (400
        for an error) when it has come by the time execute returned, else 200."""
        try:
            answers = self._generation(environ, params)
        except TritonModelError as exc:  # execute raised
            return 400, _event({"error": exc.message}), EVENTS
        status = 200
        first = []  # type: List[Any]
        if getattr(answers, "ready", lambda: True)():
            first = list(itertools.islice(answers, 1))
            if first and isinstance(first[0], TritonModelError):
                status = 400
        ctx = self.ctx
        stream = Stream(_Then(first, answers), _event_of, _failure_event,
                        metrics=ctx.metrics, tracing=ctx.tracing,
                        label="/v2/models/{model_name}/generate_stream")
        return status, stream, EVENTS


ONE_RESPONSE = ("generate expects model to produce exactly 1 response, use generate stream for "
                "model that generates various number of responses")


def _event(answer: Dict[str, Any]) -> bytes:
    return sse(jsonio.dumps(answer))


def _event_of(answer: Any) -> bytes:
    if isinstance(answer, MicroserviceError):
        return _event({"error": answer.message})
    return _event(answer)


def _failure_event(exc: BaseException) -> bytes:
    return _event({"error": as_error(exc).message})


class _Then(object):
    """The answers already taken, then the rest; ``close()`` closes the rest."""

    def __init__(self, first: List[Any], rest: Any) -> None:
        self.first, self.rest = first, rest

    def __iter__(self) -> "_Then":
        return self

    def __next__(self) -> Any:
        if self.first:
            return self.first.pop(0)
        return next(self.rest)

    def close(self) -> None:
        close = getattr(self.rest, "close", None)
        if close is not None:
            close()
