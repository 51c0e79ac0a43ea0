"""The Open Inference Protocol (V2) over REST, with Triton's binary tensor extension.

One model is served, under its V2 name (``MODELKILN_V2_MODEL_NAME``; by default
``PREDICTIVE_UNIT_ID`` when Seldon sets it, else the class name of MODEL_NAME) and optional
version. Errors are ``{"error": "<message>"}``. The health routes answer 400 while the model is
not ready (the protocol asks for a 4xx there); ``infer`` answers 503, which clients retry.
"""

import os
from typing import Any, Dict, List

from .. import __version__, gpu, tracing
from ..codecs import jsonio
from ..codecs.v2 import HEADER_LENGTH, join_body, split_body
from ..errors import (BadDataError, InternalError, MicroserviceError, RouteNotFound,
                      as_error, shown)
from ..inference.v2 import V2Calls
from ..model.context import ServingContext
from . import schemas
from .body import json_object, read_body
from ..streams import EVENT_HEADERS, EVENTS, Stream, drain, is_stream, sse
from .routes import JSON, Answer, Doc, Route

GET = ("GET",)
BINARY = "application/octet-stream"
EXTENSIONS = ["binary_tensor_data"]


def model_name_of(settings: Any) -> str:
    """The V2 name: the setting, else Seldon's graph node name, else the class name."""
    return (settings.v2_model_name or settings.unit_id
            or settings.model_name.rsplit(".", 1)[-1])


class V2Rest(object):
    """V2 REST for one served model."""

    name = "v2"
    prefix = "/v2"
    docs_path = "/openapi.json"  # named in 404 answers
    error_schema = "V2Error"

    def __init__(self, ctx: ServingContext) -> None:
        self.ctx = ctx
        self.model = model_name_of(ctx.settings)
        self.version = ctx.settings.v2_model_version
        self.calls = V2Calls(ctx.component, ctx.metrics, ctx.signature)

    def error_answer(self, error: MicroserviceError) -> Answer:
        return error.status_code, jsonio.dumps({"error": error.message}), JSON

    def routes(self) -> List[Route]:
        not_ready = ((400, "Not ready"),)
        unknown = ((404, "Unknown model or version"),)
        metadata = Doc("Model metadata (V2)", response=schemas.ref("V2ModelMetadata"),
                       errors=unknown)
        ready = Doc("Model readiness (V2)", errors=not_ready + unknown)
        infer = Doc("Inference (V2); JSON, or JSON then binary tensors when "
                    "Inference-Header-Content-Length is given",
                    request=schemas.ref("V2InferenceRequest"),
                    response=schemas.ref("V2InferenceResponse"),
                    errors=((400, "Bad request"), (404, "Unknown model or version"),
                            (413, "Body too large"), (500, "Model error"),
                            (503, "Model not loaded")),
                    content_types=(JSON, BINARY), response_types=(JSON, BINARY))
        handle_infer = tracing.phased(self.ctx.tracing, "infer", self._decode, self._call,
                                      self._encode)
        base = "/v2/models/{model_name}"
        versioned = base + "/versions/{model_version}"
        routes = [
            Route("/v2", GET, self._server_metadata, self,
                  Doc("Server metadata (V2)", response=schemas.ref("V2ServerMetadata"))),
            Route("/v2/health/live", GET, self._live, self, Doc("Server liveness (V2)")),
            Route("/v2/health/ready", GET, self._server_ready, self,
                  Doc("Server readiness (V2)", errors=not_ready)),
            Route(base, GET, self._metadata, self, metadata),
            Route(versioned, GET, self._metadata, self, metadata),
            Route(base + "/ready", GET, self._model_ready, self, ready),
            Route(versioned + "/ready", GET, self._model_ready, self, ready),
            Route(base + "/infer", ("POST",), handle_infer, self, infer),
            Route(versioned + "/infer", ("POST",), handle_infer, self, infer),
        ]
        if self.generates:
            generate = Doc("Generate (V2's generate extension): a JSON object of inputs by "
                           "name (and parameters); the outputs by name",
                           request={"type": "object", "additionalProperties": True},
                           errors=((400, "Bad request"), (404, "Unknown model or version"),
                                   (500, "Model error"), (503, "Model not loaded")))
            stream = Doc("Generate, streamed (V2's generate extension): one Server-Sent Event "
                         "per piece", request={"type": "object", "additionalProperties": True},
                         errors=generate.errors, response_types=("text/event-stream",))
            for path in (base, versioned):
                routes.append(Route(path + "/generate", ("POST",), self._generate, self,
                                    generate))
                routes.append(Route(path + "/generate_stream", ("POST",),
                                    self._generate_stream, self, stream))
        return routes

    @property
    def generates(self) -> bool:
        component = self.ctx.component
        return any(method is not None for method in (
            component.generate, component.generate_stream, component.predict_stream))

    # -- handlers -----------------------------------------------------------------------

    def _check_model(self, params: Dict[str, str]) -> None:
        name = params.get("model_name")
        if name != self.model:
            raise RouteNotFound("unknown model %s: this server serves %r"
                                % (shown(name), self.model))
        version = params.get("model_version")
        if version is not None and version != self.version:
            raise RouteNotFound(
                "model %r has no version %s (%s)" % (name, shown(version), "it serves version %r"
                                                     % self.version if self.version
                                                     else "it has no versions"))

    def _ready_or_400(self) -> None:
        try:
            self.ctx.state.check()
        except MicroserviceError as exc:
            raise MicroserviceError(exc.message, status_code=400) from exc

    def _server_metadata(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, jsonio.dumps({"name": "modelkiln", "version": __version__,
                                  "extensions": EXTENSIONS}), JSON

    def _live(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, b'{"live":true}', JSON

    def _server_ready(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self._ready_or_400()
        return 200, b'{"ready":true}', JSON

    def _model_ready(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self._check_model(params)
        self._ready_or_400()
        return 200, jsonio.dumps({"name": self.model, "ready": True}), JSON

    def _metadata(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self._check_model(params)
        ctx = self.ctx
        metadata = ctx.metadata or {}
        answer = {
            "name": self.model,
            "platform": metadata.get("platform") or "modelkiln",
            "inputs": [spec.as_metadata() for spec in ctx.signature.inputs],
            "outputs": [spec.as_metadata() for spec in ctx.signature.outputs],
        }  # type: Dict[str, Any]
        if self.version:
            answer["versions"] = [self.version]
        device = gpu.describe()
        if device is not None:  # MODELKILN_GPUS_PER_WORKER: the answering worker's devices
            answer["parameters"] = {"device": device, "worker_pid": os.getpid()}
        return 200, jsonio.dumps(answer), JSON

    # -- the generate extension ---------------------------------------------------------

    def _generate_request(self, environ: Dict[str, Any], params: Dict[str, str]
                          ) -> Dict[str, Any]:
        self._check_model(params)
        self.ctx.state.check()
        request = json_object(environ, self.ctx.limit,
                              "empty body: send a JSON object of inputs by name",
                              "a generate request is a JSON object of inputs by name")
        parameters = request.get("parameters", {})
        if not isinstance(parameters, dict):
            raise BadDataError("parameters must be an object, got %s" % shown(parameters))
        return request

    def _pieces(self, request: Dict[str, Any], streamed: bool) -> Any:
        """What the class answers a generate request with: generate_stream(request) or
        generate(request) (the JSON object as a dict), else predict_stream(X) with X the
        request's ``text_input`` (Triton's name for a text model's prompt)."""
        component = self.ctx.component
        if streamed and component.generate_stream is not None:
            return self.ctx.call_model(component.generate_stream, request)
        if not streamed and component.generate is not None:
            return self.ctx.call_model(component.generate, request)
        if component.generate_stream is not None:
            return self.ctx.call_model(component.generate_stream, request)
        if component.generate is not None:
            return self.ctx.call_model(component.generate, request)
        if "text_input" not in request:
            raise BadDataError("this model generates from text_input: send "
                               "{\"text_input\": \"...\"}")
        endpoint = component.endpoint("predict_stream")
        parameters = request.get("parameters") or {}
        meta = {"tags": parameters} if parameters else {}
        return self.ctx.call_model(lambda: endpoint.call_high(request["text_input"], [],
                                                              meta=meta))

    def _outputs(self, piece: Any) -> Dict[str, Any]:
        if isinstance(piece, dict):
            outputs = piece
        elif isinstance(piece, (str, bytes)):
            outputs = {"text_output": piece.decode("utf-8", "replace")
                       if isinstance(piece, bytes) else piece}
        else:
            raise InternalError("a generate method's pieces are dicts of outputs by name, or "
                                "text, got %s" % type(piece).__name__)
        answer = {"model_name": self.model}  # type: Dict[str, Any]
        if self.version:
            answer["model_version"] = self.version
        for name, value in outputs.items():
            answer[name] = value.tolist() if hasattr(value, "tolist") else value
        return answer

    def _generate(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        request = self._generate_request(environ, params)
        answer = self._pieces(request, streamed=False)
        if not is_stream(answer):
            return 200, jsonio.dumps(self._outputs(answer)), JSON
        joined = {}  # type: Dict[str, Any]
        # texts joined, lists extended, anything else: the last piece's
        for piece in drain(answer, self.ctx.component.lock):
            for name, value in self._outputs(piece).items():
                before = joined.get(name)
                if isinstance(before, str) and isinstance(value, str) and name not in (
                        "model_name", "model_version"):
                    joined[name] = before + value
                elif isinstance(before, list) and isinstance(value, list):
                    joined[name] = before + value
                else:
                    joined[name] = value
        return 200, jsonio.dumps(joined or self._outputs({})), JSON

    def _generate_stream(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        request = self._generate_request(environ, params)
        pieces = self._pieces(request, streamed=True)
        if not is_stream(pieces):
            pieces = iter([pieces])

        def encode(piece: Any) -> bytes:
            return sse(jsonio.dumps(self._outputs(piece)))

        def failure(exc: BaseException) -> bytes:
            return sse(jsonio.dumps({"error": as_error(exc).message}))

        ctx = self.ctx
        stream = Stream(pieces, encode, failure, lock=ctx.component.lock, metrics=ctx.metrics,
                        label="/v2/models/{model_name}/generate_stream", tracing=ctx.tracing)
        return 200, stream, EVENTS, EVENT_HEADERS

    def _decode(self, environ: Dict[str, Any], params: Dict[str, str]) -> Any:
        self._check_model(params)
        ctx = self.ctx
        ctx.state.check()
        body = read_body(environ, ctx.limit)
        header, binary = split_body(body, environ.get(HEADER_LENGTH))
        if not header.strip():
            raise BadDataError("empty body: send a V2 inference request as JSON")
        return jsonio.loads(header), binary

    def _call(self, request: Any) -> Any:
        return self.ctx.call_model(self.calls.infer, request[0], request[1])

    def _encode(self, result: Any) -> Answer:
        response, chunks = result
        if self.ctx.tracing is not None:
            tracing.annotate("inference.request_id", response.get("id"))
        response["model_name"] = self.model
        if self.version:  # keep model_name, model_version first, as the protocol shows them
            response = dict([("model_name", self.model), ("model_version", self.version)]
                            + [item for item in response.items() if item[0] != "model_name"])
        if not chunks:
            return 200, jsonio.dumps(response), JSON
        data, length = join_body(response, chunks)
        return 200, data, BINARY, [("Inference-Header-Content-Length", str(length))]

