"""OpenAI-compatible endpoints from optional methods of the model class.

Under a path prefix (``MODELKILN_OPENAI_PREFIX``, default ``/v1``), for each method the class
defines:

- ``chat_completions(request)`` -> ``POST {prefix}/chat/completions``
- ``completions(request)`` -> ``POST {prefix}/completions``
- ``embeddings(request)`` -> ``POST {prefix}/embeddings``
- and, once any of them is defined, ``GET {prefix}/models`` and ``{prefix}/models/{model}``
  (the served model, or what the class's optional ``models()`` lists).

``request`` is the JSON body as a dict, unchanged. A chat or completion method returns the
answer's text (a str), a whole OpenAI object (a dict: missing ``id``, ``object``, ``created``,
``model`` are filled in), or an iterator (a generator) of pieces: texts, or OpenAI chunk
objects. With ``"stream": true`` the pieces go out as OpenAI's Server-Sent Events, one
``data:`` chunk each, a last chunk with ``finish_reason`` "stop" after text pieces, then
``data: [DONE]``; a generator that raises sends ``data: {"error": ...}`` and ends the stream.
Without it, text pieces are joined into one answer (a method that returns one answer to a
streaming request is sent as one chunk). An embeddings method returns the vectors (a list of
lists or a 2-D array, one per input) or a whole object; ``"encoding_format": "base64"`` (what
the official client asks for) is answered as base64 of little-endian float32, as OpenAI does.

Errors use OpenAI's body: ``{"error": {"message", "type", "param", "code"}}``.
"""

import base64
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..codecs import jsonio
from ..errors import (BadDataError, InternalError, MicroserviceError, RouteNotFound,
                      as_error, shown)
from ..streams import EVENT_HEADERS, EVENTS, Stream, drain, is_stream, sse
from . import schemas
from .body import json_object
from .routes import JSON, Answer, Doc, Route

METHODS = ("chat_completions", "completions", "embeddings")
DONE = b"data: [DONE]\n\n"
# status -> OpenAI's error type and code
ERROR_KINDS = {400: ("invalid_request_error", None), 404: ("invalid_request_error", "not_found"),
               405: ("invalid_request_error", "method_not_allowed"),
               413: ("invalid_request_error", "request_too_large"),
               415: ("invalid_request_error", "unsupported_media_type"),
               503: ("server_error", "service_unavailable")}


def error_object(error: MicroserviceError) -> Dict[str, Any]:
    kind, code = ERROR_KINDS.get(error.status_code, (
        "server_error" if error.status_code >= 500 else "invalid_request_error", None))
    return {"error": {"message": error.message, "type": kind, "param": None, "code": code}}


class OpenAIRest(object):
    """The OpenAI routes for one served model."""

    name = "openai"
    docs_path = "/openapi.json"
    error_schema = "OpenAIError"

    def __init__(self, ctx: Any, prefix: str, model: str) -> None:
        self.ctx = ctx
        self.prefix = prefix
        self.model = model  # the served model's name (V2's): /models, and "model" by default
        self.created = int(time.time())
        component = ctx.component
        self.methods = {name: getattr(component, name) for name in METHODS
                        if getattr(component, name, None) is not None}
        self.listed = getattr(component, "models", None)

    def error_answer(self, error: MicroserviceError) -> Answer:
        return error.status_code, jsonio.dumps(error_object(error)), JSON

    def routes(self) -> List[Route]:
        if not self.methods:
            return []
        errors = ((400, "Not a request this route can read"), (413, "Body too large"),
                  (500, "Model error"), (503, "Model not loaded"))
        answers = (JSON, "text/event-stream")
        prefix = self.prefix
        docs = {
            "chat_completions": (
                "/chat/completions", self._chat,
                Doc("OpenAI: chat completion from the class's chat_completions(); "
                    "\"stream\": true answers Server-Sent Events", request=schemas.ref(
                        "OpenAIChatRequest"), errors=errors, response_types=answers)),
            "completions": (
                "/completions", self._completion,
                Doc("OpenAI: text completion from the class's completions(); "
                    "\"stream\": true answers Server-Sent Events", request=schemas.ref(
                        "OpenAICompletionRequest"), errors=errors, response_types=answers)),
            "embeddings": (
                "/embeddings", self._embeddings,
                Doc("OpenAI: embeddings from the class's embeddings()",
                    request=schemas.ref("OpenAIEmbeddingRequest"), errors=errors)),
        }
        routes = [Route(prefix + path, ("POST",), handler, self, doc)
                  for name, (path, handler, doc) in docs.items() if name in self.methods]
        routes.append(Route(prefix + "/models", ("GET",), self._models, self,
                            Doc("OpenAI: the models this server answers for")))
        routes.append(Route(prefix + "/models/{model}", ("GET",), self._one_model, self,
                            Doc("OpenAI: one model", errors=((404, "Unknown model"),))))
        return routes

    # -- requests -----------------------------------------------------------------------

    def _request(self, environ: Dict[str, Any], field: str, kinds: Tuple[type, ...],
                 what: str) -> Dict[str, Any]:
        self.ctx.state.check()
        request = json_object(environ, self.ctx.limit,
                              "empty body: send the request as a JSON object",
                              "the body must be a JSON object")
        value = request.get(field)
        if value is None or not isinstance(value, kinds) or isinstance(value, bool):
            raise BadDataError("'%s' is a required property: %s" % (field, what))
        stream = request.get("stream", False)
        if stream is not None and not isinstance(stream, bool):
            raise BadDataError("'stream' must be true or false, got %s" % shown(stream))
        return request

    def _model(self, request: Dict[str, Any]) -> str:
        """The answer's "model": the request's, else the served model's name."""
        model = request.get("model")
        return model if isinstance(model, str) and model else self.model

    def _call(self, name: str, request: Dict[str, Any]) -> Any:
        return self.ctx.call_model(self.methods[name], request)

    def _chat(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        request = self._request(environ, "messages", (list,), "a list of messages")
        return self._text_answer("chat_completions", request, chat=True)

    def _completion(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        request = self._request(environ, "prompt", (str, list), "a string or a list")
        return self._text_answer("completions", request, chat=False)

    def _text_answer(self, name: str, request: Dict[str, Any], chat: bool) -> Answer:
        ident = "%s-%s" % ("chatcmpl" if chat else "cmpl", uuid.uuid4().hex)
        answer = self._call(name, request)
        shape = _Shape(chat, ident, int(time.time()), self._model(request), name)
        if request.get("stream"):
            pieces = answer if is_stream(answer) else iter([answer])
            stream = Stream(pieces, shape.chunk, shape.failure, shape.tail,
                            lock=self.ctx.component.lock, metrics=self.ctx.metrics,
                            label=self.prefix + ("/chat/completions" if chat
                                                 else "/completions"),
                            tracing=self.ctx.tracing)
            return 200, stream, EVENTS, EVENT_HEADERS
        if is_stream(answer):
            answer = shape.joined(drain(answer, self.ctx.component.lock))
        return 200, jsonio.dumps(shape.whole(answer)), JSON

    def _embeddings(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        request = self._request(environ, "input", (str, list), "a string or a list")
        encoding = request.get("encoding_format", "float")
        if encoding not in ("float", "base64", None):
            raise BadDataError("'encoding_format' must be \"float\" or \"base64\", got %s"
                               % shown(encoding))
        model = self._model(request)
        answer = self._call("embeddings", request)
        if isinstance(answer, dict):
            whole = dict(answer)
            whole.setdefault("object", "list")
            whole.setdefault("model", model)
            return 200, jsonio.dumps(whole), JSON
        try:
            vectors = np.asarray(answer, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InternalError("embeddings() must return one vector of numbers per input "
                                "(a list of lists or a 2-D array) or a whole object, got %s"
                                % shown(answer)) from exc
        if vectors.ndim == 1:
            vectors = vectors[None, :]
        if vectors.ndim != 2:
            raise InternalError("embeddings() must return one vector per input, got an array "
                                "of shape %s" % (vectors.shape,))
        data = []
        for index, vector in enumerate(vectors):
            if encoding == "base64":
                value = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
            else:
                value = vector.tolist()  # type: Any
            data.append({"object": "embedding", "index": index, "embedding": value})
        return 200, jsonio.dumps({"object": "list", "data": data, "model": model,
                                  "usage": {"prompt_tokens": 0, "total_tokens": 0}}), JSON

    def _model_list(self) -> List[Dict[str, Any]]:
        listed = [self.model]  # type: List[Any]
        if self.listed is not None:
            listed = list(self.ctx.call_model(self.listed))
        models = []
        for item in listed:
            if isinstance(item, dict):
                entry = dict(item)
                if not isinstance(entry.get("id"), str):
                    raise InternalError("models(): each model needs an \"id\", got %s"
                                        % shown(item))
            elif isinstance(item, str):
                entry = {"id": item}
            else:
                raise InternalError("models() must return model ids (strings) or objects, got "
                                    "%s" % shown(item))
            entry.setdefault("object", "model")
            entry.setdefault("created", self.created)
            entry.setdefault("owned_by", "modelkiln")
            models.append(entry)
        return models

    def _models(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, jsonio.dumps({"object": "list", "data": self._model_list()}), JSON

    def _one_model(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        wanted = params.get("model")
        for entry in self._model_list():
            if entry["id"] == wanted:
                return 200, jsonio.dumps(entry), JSON
        raise RouteNotFound("The model %s does not exist" % shown(wanted))


class _Shape(object):
    """OpenAI's objects for one chat or text completion, from what the method returned."""

    def __init__(self, chat: bool, ident: str, created: int, model: str, method: str) -> None:
        self.chat, self.ident, self.created, self.model = chat, ident, created, model
        self.method = method
        self.texts = 0  # text pieces sent: the stream ends with a finish_reason chunk

    def _fill(self, obj: Dict[str, Any], kind: str) -> Dict[str, Any]:
        obj = dict(obj)
        obj.setdefault("id", self.ident)
        obj.setdefault("object", kind)
        obj.setdefault("created", self.created)
        obj.setdefault("model", self.model)
        if not isinstance(obj.get("choices"), list):
            raise InternalError("%s() returned an object without a \"choices\" list"
                                % self.method)
        return obj

    def _text_chunk(self, text: Optional[str], finish: Optional[str]) -> Dict[str, Any]:
        if self.chat:
            delta = {}  # type: Dict[str, Any]
            if text is not None:
                delta["content"] = text
                if self.texts == 0:
                    delta["role"] = "assistant"
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            kind = "chat.completion.chunk"
        else:
            choice = {"index": 0, "text": text or "", "logprobs": None,
                      "finish_reason": finish}
            kind = "text_completion"
        return {"id": self.ident, "object": kind, "created": self.created,
                "model": self.model, "choices": [choice]}

    def chunk(self, piece: Any) -> bytes:
        """One SSE event for one piece of a stream."""
        if isinstance(piece, str):
            obj = self._text_chunk(piece, None)
            self.texts += 1
        elif isinstance(piece, dict):
            if "choices" in piece or "object" in piece:
                obj = self._fill(piece, "chat.completion.chunk" if self.chat
                                 else "text_completion")
            else:
                raise InternalError("%s() yielded a dict without \"choices\": yield text, or "
                                    "OpenAI chunk objects" % self.method)
            if obj.get("object") in ("chat.completion", "text_completion") and self.chat:
                obj = self._as_chunk(obj)
        else:
            raise InternalError("%s() yielded %s: yield text (str) or OpenAI chunk objects "
                                "(dict)" % (self.method, type(piece).__name__))
        return sse(jsonio.dumps(obj))

    def _as_chunk(self, whole: Dict[str, Any]) -> Dict[str, Any]:
        """A whole chat completion sent to a streaming request: one chunk of it."""
        chunk = dict(whole, object="chat.completion.chunk")
        chunk["choices"] = [dict((k, v) for k, v in choice.items() if k != "message")
                            if isinstance(choice, dict) else choice
                            for choice in whole["choices"]]
        for choice, original in zip(chunk["choices"], whole["choices"]):
            if isinstance(choice, dict) and isinstance(original, dict):
                choice["delta"] = original.get("message") or {}
        return chunk

    def tail(self) -> bytes:
        if self.texts:
            return sse(jsonio.dumps(self._text_chunk(None, "stop"))) + DONE
        return DONE

    def failure(self, exc: BaseException) -> bytes:
        return sse(jsonio.dumps(error_object(as_error(exc))))

    def joined(self, pieces: List[Any]) -> Any:
        """The pieces of a generator as one answer (a request without "stream")."""
        texts = []
        for piece in pieces:
            if isinstance(piece, str):
                texts.append(piece)
            elif isinstance(piece, dict) and isinstance(piece.get("choices"), list):
                for choice in piece["choices"][:1]:
                    if isinstance(choice, dict):
                        part = (choice.get("delta") or {}).get("content") if self.chat \
                            else choice.get("text")
                        if isinstance(part, str):
                            texts.append(part)
            else:
                raise InternalError("%s() yielded %s: yield text (str) or OpenAI chunk "
                                    "objects (dict)" % (self.method, type(piece).__name__))
        return "".join(texts)

    def whole(self, answer: Any) -> Dict[str, Any]:
        kind = "chat.completion" if self.chat else "text_completion"
        if isinstance(answer, dict):
            return self._fill(answer, kind)
        if not isinstance(answer, str):
            raise InternalError("%s() must return text (str), an OpenAI object (dict) or a "
                                "generator of them, got %s" % (self.method,
                                                               type(answer).__name__))
        if self.chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": answer},
                      "finish_reason": "stop"}  # type: Dict[str, Any]
        else:
            choice = {"index": 0, "text": answer, "logprobs": None, "finish_reason": "stop"}
        return {"id": self.ident, "object": kind, "created": self.created, "model": self.model,
                "choices": [choice]}


def check_prefix(prefix: str, taken: Callable[[str], bool]) -> Optional[str]:
    """Why ``prefix`` cannot hold the OpenAI routes (``taken(path)``: another protocol answers
    that path), or None."""
    if not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
        return "it must start with / and not end with one (for example /v1)"
    for path in ("/chat/completions", "/completions", "/embeddings", "/models"):
        if taken(prefix + path):
            return ("%s is already a route of another protocol (Seldon, V2, ...): choose "
                    "another prefix" % (prefix + path))
    if prefix in ("/api", "/v2") or prefix.startswith(("/api/", "/v2/")):
        return "it lies under Seldon's /api or V2's /v2"
    return None
