"""Seldon Core v1 semantics: what each operation does with a decoded request message.

Nothing here knows about HTTP (or gRPC): an operation takes the request message (a dict, or
the raw body in payload pass-through) and returns the response message. The protocol modules
bind operations to routes.
"""

from typing import Any, Dict, List, Optional

import numpy as np

from ..codecs.message import (build_meta, check_meta, decode_message, describe, encode_payload,
                              protobuf_shaped)
from ..errors import BadDataError, InternalError, MicroserviceError, NotImplementedByModel, few
from .batching import batch_key
from ..model.component import Component, declined, or_default, validate_metrics
from ..model.response import Response, unpack
from ..model.signature import Signature

FEEDBACK_KEYS = frozenset(("request", "response", "reward", "truth"))
# /health/status when health_status() is SeldonComponent's placeholder, or raises
# SeldonNotImplementedError (Seldon's words)
NOT_IMPLEMENTED_HEALTH = "not implemented - assuming healthy"


class Operation(object):
    """One Seldon operation: the user method it calls (``name``, ``name_raw``, ``name_rest``),
    Seldon's metric ``method`` label for it, and how the API document describes it."""

    __slots__ = ("name", "tag", "summary", "body")

    def __init__(self, name: str, tag: str, summary: str, body: str) -> None:
        self.name = name
        self.tag = tag
        self.summary = summary
        self.body = body  # schema name of the request body


PREDICT = Operation("predict", "predict", "Prediction from the model", "SeldonMessage")
TRANSFORM_INPUT = Operation("transform_input", "inputtransform", "Transform the input",
                            "SeldonMessage")
TRANSFORM_OUTPUT = Operation("transform_output", "outputtransform", "Transform the output",
                             "SeldonMessage")
ROUTE = Operation("route", "router", "Choose a child branch", "SeldonMessage")
AGGREGATE = Operation("aggregate", "aggregate", "Combine several messages", "SeldonMessageList")
SEND_FEEDBACK = Operation("send_feedback", "feedback", "Send feedback", "Feedback")
OPERATIONS = (PREDICT, TRANSFORM_INPUT, TRANSFORM_OUTPUT, ROUTE, AGGREGATE, SEND_FEEDBACK)
SERVED_BY = {"MODEL": "predict", "TRANSFORMER": "transform_input",
             "OUTLIER_DETECTOR": "transform_input", "OUTPUT_TRANSFORMER": "transform_output",
             "ROUTER": "route"}
HEALTH_TAG = "health"


class SeldonCalls(object):
    """The user component behind every Seldon operation, plus the metrics it reports."""

    def __init__(self, component: Component, metrics: Any, request_path: Dict[str, str],
                 unit_id: Optional[str], signature: Optional[Signature] = None) -> None:
        self.component = component
        self.signature = signature or Signature([], [])
        # The declared inputs are those of the operation SERVICE_TYPE serves.
        self.checked = SERVED_BY.get(component.service_type)
        self.metrics = metrics
        self.request_path = request_path
        self.feedback_unit = unit_id or "0"  # Seldon reads routing[PREDICTIVE_UNIT_ID or "0"]
        self.endpoints = {op.name: component.endpoint(op.name) for op in OPERATIONS}
        self.stream_endpoint = component.endpoint("predict_stream")
        self.tags = {op.name: op.tag for op in OPERATIONS}
        self.tags["health"] = HEALTH_TAG

    # -- shared answer building -------------------------------------------------------

    def _custom_metrics(self, runtime_metrics: List[Dict[str, Any]], method: str
                        ) -> List[Dict[str, Any]]:
        metrics = self.component.user_metrics()
        if runtime_metrics:
            metrics = metrics + validate_metrics(runtime_metrics)
        if not metrics:
            return metrics
        tag = self.tags[method]
        if self.metrics is not None:
            self.metrics.record_custom(metrics, tag)
        # Seldon echoes tagged metrics with the method label added to their tags.
        return [dict(m, tags=dict(m["tags"], method=tag)) if m.get("tags") else m
                for m in metrics]

    def raw_metrics(self, response: Any, method: str) -> None:
        """Metrics a raw method put in its answer's meta are recorded too."""
        if isinstance(response, dict):
            meta = response.get("meta")
            if isinstance(meta, dict) and meta.get("metrics") and self.metrics is not None:
                self.metrics.record_custom(validate_metrics(meta["metrics"]),
                                           self.tags[method])

    def _answer(self, result: Any, request_raw: Dict[str, Any], meta: Optional[Dict[str, Any]],
                method: str, names_for: Any = None, extra_metrics: Optional[List[Any]] = None
                ) -> Dict[str, Any]:
        data, runtime_tags, runtime_metrics = unpack(result)
        answer = encode_payload(data, request_raw, names_for or self.component.output_names)
        metrics = self._custom_metrics(runtime_metrics, method)
        if extra_metrics:
            metrics = extra_metrics + metrics
        answer["meta"] = build_meta(meta, request_raw, [self.component.user_tags(), runtime_tags],
                                    metrics, self.request_path)
        return answer

    def _decode(self, request: Any, name: str) -> Any:
        msg = decode_message(request)
        if name == self.checked and msg.kind == "data":
            self.signature.check_array(msg.features, "data")
        return msg

    def _call_raw(self, name: str, request: Any) -> Any:
        response = self.endpoints[name].raw(request)
        self.raw_metrics(response, name)
        return response

    # -- routes -------------------------------------------------------------------------

    def predict(self, request: Any) -> Any:
        endpoint = self.endpoints["predict"]
        if endpoint.raw is not None:
            return self._call_raw("predict", request)
        if endpoint.high is None and self.component.v2_raw is not None:
            raise NotImplementedByModel(
                "this class defines only predict_v2_raw(): send V2 requests to "
                "/v2/models/<name>/infer")
        msg = self._decode(request, "predict")
        if endpoint.high is None and self.component.predict_stream is not None:
            # a class that only streams, asked without Accept: text/event-stream
            result = join_pieces(list(self.stream_endpoint.call_high(
                msg.features, msg.names, meta=msg.meta)))  # type: Any
        elif endpoint.high is None:
            result = []
        else:
            try:
                if self.component.batcher is None:
                    result = endpoint.call_high(msg.features, msg.names, meta=msg.meta)
                else:
                    result = self._batched("predict", endpoint, msg)
            except Exception as exc:  # (inline: no extra call on the hot path)
                if not declined(exc):
                    raise
                result = []  # SeldonNotImplementedError: as if predict() did not exist
        return self._answer(result, msg.raw, msg.meta, "predict")

    def predict_stream(self, request: Any) -> Any:
        """(decoded message, its pieces): the class's predict_stream() generator for a
        request that asked for Server-Sent Events; ``stream_piece`` makes each piece an
        answer message."""
        if self.component.predict_stream is None:
            raise MicroserviceError(
                "this model does not stream (its class has no predict_stream()): send the "
                "request without Accept: text/event-stream", status_code=406)
        msg = self._decode(request, "predict")
        return msg, self.stream_endpoint.call_high(msg.features, msg.names, meta=msg.meta)

    def stream_piece(self, msg: Any, piece: Any) -> Dict[str, Any]:
        return self._answer(piece, msg.raw, msg.meta, "predict")

    def _batched(self, name: str, endpoint: Any, msg: Any) -> Any:
        """The served method's answer through the adaptive batcher when the request can be
        merged with others (an array payload, no meta but a puid, rows within the batch
        size); else called directly."""
        batcher = self.component.batcher
        key = None
        if name == self.checked and (not msg.meta or set(msg.meta) <= {"puid"}):
            key = batch_key(name, msg.features, msg.names)
        if key is None or not batcher.fits(msg.features):
            return endpoint.call_high(msg.features, msg.names, meta=msg.meta)
        return batcher.submit(key, msg.features, list(msg.names or []), msg.meta)

    def transform_input(self, request: Any) -> Any:
        if self.component.service_type == "OUTLIER_DETECTOR" and self.component.score:
            return self.outlier_score(request)
        return self._transform("transform_input", request, self.component.input_names)

    def transform_output(self, request: Any) -> Any:
        return self._transform("transform_output", request, None)

    def _transform(self, name: str, request: Any, names_for: Any) -> Any:
        endpoint = self.endpoints[name]
        if endpoint.raw is not None:
            return self._call_raw(name, request)
        msg = self._decode(request, name)
        if endpoint.high is None:
            result = msg.features  # a missing transformer passes the payload through
        else:
            try:
                if self.component.batcher is None:
                    result = endpoint.call_high(msg.features, msg.names, meta=msg.meta)
                else:
                    result = self._batched(name, endpoint, msg)
            except Exception as exc:
                if not declined(exc):
                    raise
                result = msg.features
        return self._answer(result, msg.raw, msg.meta, name, names_for)

    def outlier_score(self, request: Any) -> Dict[str, Any]:
        """OUTLIER_DETECTOR: pass the request on; per-row scores go in meta.tags.outlierScore."""
        msg = self._decode(request, "transform_input")
        scores = self.component.score(msg.features, msg.names)
        scores = np.asarray(scores).tolist() if not isinstance(scores, list) else scores
        answer = self._answer(msg.features, msg.raw, msg.meta, "transform_input")
        answer["meta"].setdefault("tags", {})["outlierScore"] = scores
        return answer

    def route(self, request: Any) -> Any:
        endpoint = self.endpoints["route"]
        if endpoint.raw is not None:
            return self._call_raw("route", request)
        msg = self._decode(request, "route")
        if endpoint.high is None:
            raise NotImplementedByModel(
                "Route not defined: this class has no route() or route_raw() method")
        result = endpoint.call_high(msg.features, msg.names, meta=msg.meta)
        data, tags, metrics = unpack(result)
        if isinstance(data, np.integer):
            data = int(data)
        if not isinstance(data, int):
            raise BadDataError("Routing response must be int but got %s" % describe(data))
        return self._answer(Response(np.array([[data]]), tags, metrics), msg.raw, None, "route")

    def aggregate(self, request: Any) -> Any:
        endpoint = self.endpoints["aggregate"]
        if endpoint.raw is not None:
            return self._call_raw("aggregate", request)
        if isinstance(request, list):
            raw_messages = request
        elif isinstance(request, dict) and isinstance(request.get("seldonMessages"), list):
            raw_messages = request["seldonMessages"]
        else:
            raise BadDataError(
                'Invalid request data type: /aggregate takes a list of SeldonMessages or '
                '{"seldonMessages": [...]}, got %s' % describe(request))
        if not raw_messages:
            raise BadDataError("/aggregate needs at least one message")
        if endpoint.high is None:
            raise NotImplementedByModel(
                "Aggregate not defined: this class has no aggregate() or aggregate_raw() "
                "method")
        messages = [decode_message(m) for m in raw_messages]
        result = endpoint.high([m.features for m in messages], [m.names for m in messages])
        tags = {}  # type: Dict[str, Any]
        path = {}  # type: Dict[str, Any]
        carried = []  # type: List[Any]
        for m in messages:
            if m.meta:
                tags.update(m.meta.get("tags") or {})
                path.update(m.meta.get("requestPath") or {})
                carried.extend(m.meta.get("metrics") or [])
        merged = {"tags": tags, "requestPath": path}
        return self._answer(result, messages[0].raw, merged, "aggregate",
                            extra_metrics=carried)

    def send_feedback(self, request: Any) -> Any:
        endpoint = self.endpoints["send_feedback"]
        if not isinstance(request, dict):
            raise BadDataError("Feedback must be a JSON object with request, response, "
                               "reward and truth")
        reward = request.get("reward", 0.0)
        if isinstance(reward, bool) or not isinstance(reward, (int, float)):
            raise BadDataError("feedback reward must be a number, got %s" % describe(reward))
        if self.metrics is not None:
            self.metrics.record_feedback(float(reward))
        if endpoint.raw is not None:
            return self._call_raw("send_feedback", request)
        unknown = sorted(set(request) - FEEDBACK_KEYS)
        if unknown:
            raise BadDataError("feedback has unknown field(s) %s; expected %s"
                               % (few(unknown), ", ".join(sorted(FEEDBACK_KEYS))))
        parts = {}
        for key in ("request", "response", "truth"):
            part = request.get(key)
            if part is None:
                parts[key] = None
            elif not isinstance(part, dict):
                raise BadDataError("feedback %s must be a SeldonMessage object" % key)
            else:
                parts[key] = part
        features, names = _feedback_data(parts["request"])
        truth, _ = _feedback_data(parts["truth"])
        routing = None
        response = parts["response"]
        if response and response.get("meta") is not None:
            check_meta(response["meta"])
            routing = (response["meta"].get("routing") or {}).get(self.feedback_unit)
        if endpoint.high is None:
            result = None
        else:
            result = or_default(None, endpoint.high, features, names, float(reward), truth,
                                routing=routing)
        data, tags, metrics = unpack(result)
        if data is None:
            data = np.array([])
        answer = encode_payload(data, parts["request"] or {}, self.component.output_names)
        metrics = self._custom_metrics(metrics, "send_feedback")
        answer["meta"] = build_meta(None, {}, [self.component.user_tags(), tags], metrics,
                                    self.request_path)
        # Seldon answers feedback through a protobuf round trip; keep its JSON shape.
        return protobuf_shaped(answer)

    def health_status(self) -> Any:
        if self.component.health_status_raw is not None:
            return self.component.health_status_raw()
        if self.component.health_status is not None:
            result = or_default(NOT_IMPLEMENTED_HEALTH, self.component.health_status)
        elif self.component.health_placeholder:
            result = NOT_IMPLEMENTED_HEALTH  # what Seldon answers for SeldonComponent's
        else:
            result = "healthy"
        return self._answer(result, {}, None, "health")


def _feedback_data(message: Optional[Dict[str, Any]]) -> Any:
    """Features and names of a feedback part. Like Seldon, only ``data`` is read, and its
    numbers arrive as floats (they pass through protobuf doubles there)."""
    if not message or "data" not in message:
        return np.array([]), []
    decoded = decode_message({"data": message["data"]})
    features = decoded.features
    if np.issubdtype(features.dtype, np.integer):
        features = features.astype(np.float64)
    return features, decoded.names


def join_pieces(pieces: List[Any]) -> Any:
    """A streaming method's pieces as one answer, for a request that did not ask for a
    stream: texts joined, bytes joined, arrays and lists concatenated along the first axis."""
    if not pieces:
        return []
    if all(isinstance(piece, str) for piece in pieces):
        return "".join(pieces)
    if all(isinstance(piece, (bytes, bytearray)) for piece in pieces):
        return b"".join(bytes(piece) for piece in pieces)
    if all(isinstance(piece, list) for piece in pieces):
        return [item for piece in pieces for item in piece]
    try:
        return np.concatenate([np.atleast_1d(np.asarray(piece)) for piece in pieces])
    except (TypeError, ValueError) as exc:
        raise InternalError(
            "predict_stream()'s pieces cannot be joined into one answer (%s): texts, bytes, "
            "lists or arrays join; ask for the stream with Accept: text/event-stream" % exc
        ) from exc
