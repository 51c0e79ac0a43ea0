"""Open Inference Protocol (V2) semantics for a Seldon-style class, without transport.

How a V2 request reaches an unchanged Seldon-style class:

- one input: ``X`` is its array (shape and datatype as sent), ``names`` is empty;
- several inputs, each of shape ``[N]`` or ``[N, 1]`` with the same ``N``: ``X`` is the
  ``[N, k]`` table of them as columns (as a DataFrame would hold them), ``names`` their names;
  other combinations are a 400 that says so;
- ``meta``: ``{"puid": <request id>, "tags": <request parameters>}``;
- the method is the one SERVICE_TYPE serves: predict (MODEL), transform_input (TRANSFORMER),
  transform_output (OUTPUT_TRANSFORMER), score (OUTLIER_DETECTOR: output ``outlier_score``),
  route (ROUTER: output ``route``, INT64 ``[1]``); a COMBINER needs several messages, which
  V2 cannot carry (400). A class with only the raw method gets a SeldonMessage made from the
  tensor, and its answer's payload becomes the output;
- the answer: an array or list is one output (named after the first declared output, else
  ``output-0``); a str is a BYTES ``[1]`` output with ``content_type: str``, bytes a BYTES
  ``[1]`` output, a dict a BYTES ``[1]`` output holding its JSON with ``content_type: json``;
  ``class_names()`` go in the output's ``parameters.names``; the request's parameters,
  ``tags()`` and per-request tags are merged (Seldon's order) into the response's
  ``parameters``; custom metrics are recorded as for Seldon requests.

A class may instead define ``predict_v2_raw(request)``: it gets the request as a dict whose
inputs hold decoded numpy arrays in ``data``, and returns ``{"outputs": [{"name", "data", ...}],
"parameters"?: {...}}`` with arrays or lists as data (datatype and shape are filled in).
"""

from collections import Counter
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..codecs import jsonio
from ..codecs.message import decode_message, describe, encode_payload
from ..codecs.v2 import (DTYPES, EXTENSION_PARAMETERS, BinaryReader, Tensor, decode_input,
                         encode_output)
from ..errors import BadDataError, InternalError, clipped, few, shown
from ..model.component import Component, validate_metrics
from ..model.response import unpack
from ..model.signature import Signature
from ..streams import drain, is_stream, under
from .batching import batch_key
from .seldon import join_pieces

SERVED_METHOD = {"MODEL": "predict", "TRANSFORMER": "transform_input",
                 "OUTPUT_TRANSFORMER": "transform_output", "ROUTER": "route",
                 "OUTLIER_DETECTOR": "score", "COMBINER": "aggregate"}
METRIC_TAGS = {"predict": "predict", "transform_input": "inputtransform",
               "transform_output": "outputtransform", "route": "router", "score": "predict",
               "aggregate": "aggregate"}
DEFAULT_OUTPUT = "output-0"


class RequestedOutput(object):
    __slots__ = ("name", "binary")

    def __init__(self, name: str, binary: bool) -> None:
        self.name = name
        self.binary = binary


def _flag(parameters: Dict[str, Any], key: str) -> bool:
    value = parameters.get(key, False)
    if not isinstance(value, bool):
        raise BadDataError("%s must be true or false" % key)
    return value


class V2Calls(object):
    """The served component behind V2 ``infer``."""

    def __init__(self, component: Component, metrics: Any, signature: Signature) -> None:
        self.component = component
        self.metrics = metrics
        self.signature = signature
        self.method = SERVED_METHOD[component.service_type]
        self.endpoint = (component.endpoint(self.method)
                         if self.method not in ("score",) else None)
        self.output_name = signature.outputs[0].name if signature.outputs else DEFAULT_OUTPUT
        self.stream_endpoint = (component.endpoint("predict_stream")
                                if self.method == "predict" and component.predict_stream
                                is not None else None)
        # -- a Triton Python-backend model: Triton's checks and answers (inference.triton) --
        from ..model.formats.triton import TritonModel
        from .triton import TritonCalls

        self.triton = (TritonCalls(component.obj, component)
                       if isinstance(component.obj, TritonModel)
                       else None)  # type: Optional[TritonCalls]

    # -- request ------------------------------------------------------------------------

    def infer(self, request: Any, binary: Optional[BinaryReader]
              ) -> Tuple[Dict[str, Any], List[bytes]]:
        """(response object, binary chunks of the outputs sent in binary)."""
        if self.triton is not None:  # a Triton Python-backend model (see __init__)
            return self.triton.infer(request, binary)
        inputs, request_id, wanted, all_binary, user_parameters = self._parse(request, binary)
        if self.component.v2_raw is not None:
            outputs, answer_parameters = self._call_raw(request, inputs)
        else:
            outputs, answer_parameters = self._call_seldon_style(inputs, request_id,
                                                                 user_parameters)
        return self._answer(outputs, answer_parameters, request_id, wanted, all_binary)

    @property
    def answers_in_pieces(self) -> bool:
        """Whether ``infer_stream`` answers a request in any number of pieces (a decoupled
        Triton model, a class with ``predict_stream()``), not in exactly one."""
        if self.triton is not None:
            return self.triton.model.decoupled
        return (self.stream_endpoint is not None and self.component.v2_raw is None)

    def infer_stream(self, request: Any, binary: Optional[BinaryReader]) -> Iterator[Any]:
        """The answers to one request of a stream (gRPC ModelStreamInfer), each a (response
        object, binary chunks): one per piece of the class's ``predict_stream()`` (each
        taken under the model's lock), a decoupled Triton model's responses, else the one
        answer of ``infer``."""
        if self.triton is not None:
            return self.triton.infer_stream(request, binary)
        if not self.answers_in_pieces:
            return iter([self.infer(request, binary)])
        component = self.component
        inputs, request_id, wanted, all_binary, user_parameters = self._parse(request, binary)
        X, names = self._features(inputs)
        meta = {"tags": dict(user_parameters)}  # type: Dict[str, Any]
        if request_id is not None:
            meta["puid"] = request_id
        pieces = self.stream_endpoint.call_high(X, names, meta=meta)
        merged = dict(user_parameters)
        merged.update(component.user_tags() or {})
        if not is_stream(pieces):
            pieces = iter([pieces])
        return self._piece_answers(pieces, merged, request_id, wanted, all_binary)

    def _piece_answers(self, pieces: Iterator[Any], parameters: Dict[str, Any],
                       request_id: Optional[str], wanted: Optional[List[RequestedOutput]],
                       all_binary: bool) -> Iterator[Any]:
        lock = self.component.lock
        try:
            while True:
                try:
                    piece = under(lock, next, pieces)
                except StopIteration:
                    return
                yield self._answer([self._as_output(self.output_name, piece)], parameters,
                                   request_id, wanted, all_binary)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                under(lock, close)

    def _parse(self, request: Any, binary: Optional[BinaryReader]) -> Tuple[Any, ...]:
        """A V2 request's inputs (decoded and checked), id, wanted outputs, whether all go in
        binary, and its own parameters."""
        if not isinstance(request, dict):
            raise BadDataError("a V2 inference request is a JSON object with inputs, got %s"
                               % describe(request))
        items = request.get("inputs")
        if not isinstance(items, list) or not items:
            raise BadDataError("a V2 inference request needs inputs: a non-empty list")
        parameters = request.get("parameters", {})
        if not isinstance(parameters, dict):
            raise BadDataError("request parameters must be an object")
        request_id = request.get("id")
        if request_id is not None and not isinstance(request_id, str):
            raise BadDataError("request id must be a string")
        inputs = [decode_input(item, i, binary) for i, item in enumerate(items)]
        if binary is not None:
            binary.check_consumed()
        names = [t.name for t in inputs]
        if len(set(names)) != len(names):
            twice = [name for name, count in Counter(names).items() if count > 1]
            raise BadDataError("input names must be unique; given more than once: %s"
                               % few(twice, quote=True))
        self.signature.check_v2_inputs(inputs)
        all_binary = _flag(parameters, "binary_data_output")
        wanted = self._requested_outputs(request.get("outputs"), all_binary)
        user_parameters = {k: v for k, v in parameters.items() if k not in EXTENSION_PARAMETERS}
        return inputs, request_id, wanted, all_binary, user_parameters

    def _answer(self, outputs: List[Tuple[str, Any, Dict[str, Any]]],
                answer_parameters: Dict[str, Any], request_id: Optional[str],
                wanted: Optional[List[RequestedOutput]], all_binary: bool
                ) -> Tuple[Dict[str, Any], List[bytes]]:
        response = {"model_name": ""}  # type: Dict[str, Any]
        if request_id is not None:
            response["id"] = request_id
        if answer_parameters:
            response["parameters"] = answer_parameters
        response["outputs"] = []
        chunks = self._encode_outputs(outputs, wanted, all_binary, response)
        return response, chunks

    @staticmethod
    def _requested_outputs(items: Any, all_binary: bool) -> Optional[List[RequestedOutput]]:
        if items is None:
            return None
        if not isinstance(items, list):
            raise BadDataError("outputs must be a list of {name, parameters} objects")
        wanted = []
        names = set()  # type: set
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise BadDataError("outputs[%d] must be an object with a name" % index)
            if item["name"] in names:
                raise BadDataError("output %s is requested twice" % shown(item["name"]))
            names.add(item["name"])
            parameters = item.get("parameters", {})
            if not isinstance(parameters, dict):
                raise BadDataError("outputs[%d].parameters must be an object" % index)
            binary = parameters.get("binary_data", all_binary)
            if not isinstance(binary, bool):
                raise BadDataError("output %s: binary_data must be true or false"
                                   % shown(item["name"]))
            wanted.append(RequestedOutput(item["name"], binary))
        return wanted

    # -- calling the class --------------------------------------------------------------

    def _features(self, inputs: List[Tensor]) -> Tuple[np.ndarray, List[str]]:
        if len(inputs) == 1:
            return inputs[0].array, []
        rows = {t.shape[0] if t.shape else None for t in inputs}
        columns = all(len(t.shape) == 1 or (len(t.shape) == 2 and t.shape[1] == 1)
                      for t in inputs)
        if not columns or len(rows) != 1:
            raise BadDataError(
                "several inputs reach predict(X, names) only as the columns of one table: "
                "each must have shape [N] or [N, 1] with the same N, got %s; or define "
                "predict_v2_raw(request) to receive the inputs as they are"
                % few("%s %s" % (clipped(t.name, 40), t.shape) for t in inputs))
        return (np.column_stack([t.array.reshape(-1) for t in inputs]),
                [t.name for t in inputs])

    def _call_seldon_style(self, inputs: List[Tensor], request_id: Optional[str],
                           parameters: Dict[str, Any]
                           ) -> Tuple[List[Tuple[str, Any, Dict[str, Any]]], Dict[str, Any]]:
        component = self.component
        X, names = self._features(inputs)
        meta = {"tags": dict(parameters)}  # type: Dict[str, Any]
        if request_id is not None:
            meta["puid"] = request_id
        if self.method == "aggregate":
            raise BadDataError("SERVICE_TYPE COMBINER combines several messages, which a V2 "
                               "request cannot carry: use Seldon's /aggregate")
        if self.method == "score":
            scores = component.score(X, names)
            data, tags, metrics = np.asarray(scores), None, []  # type: Any
            name = "outlier_score"
        else:
            endpoint = self.endpoint
            if endpoint.high is None and endpoint.raw is not None:
                data, tags, metrics = self._call_seldon_raw(X, names, meta)
            elif endpoint.high is None and self.stream_endpoint is not None:
                # a class that only streams, asked for one answer: its pieces joined
                data, tags, metrics = join_pieces(drain(self.stream_endpoint.call_high(
                    X, names, meta=meta), component.lock)), None, []
            elif endpoint.high is None:
                if self.method == "route":
                    raise BadDataError("Route not defined: this class has no route() method")
                data, tags, metrics = X, None, []  # a missing transformer passes through
            elif self.component.batcher is None:
                data, tags, metrics = unpack(endpoint.call_high(X, names, meta=meta))
            else:
                data, tags, metrics = unpack(self._batched(endpoint, X, names, meta))
            name = self.output_name
            if self.method == "route":
                data = self._branch(data)
                name = "route"
        self._record_metrics(metrics)
        merged = dict(parameters)
        for extra in (component.user_tags(), tags):
            if extra:
                merged.update(extra)
        return [self._as_output(name, data)], merged

    def _batched(self, endpoint: Any, X: np.ndarray, names: List[str], meta: Dict[str, Any]
                 ) -> Any:
        """Through the adaptive batcher when the request can be merged with others (no
        request parameters, rows within the batch size); else called directly."""
        batcher = self.component.batcher
        key = None if meta["tags"] else batch_key(self.method, X, names)
        if key is None or not batcher.fits(X):
            return endpoint.call_high(X, names, meta=meta)
        return batcher.submit(key, X, list(names), meta)

    def _call_seldon_raw(self, X: np.ndarray, names: List[str], meta: Dict[str, Any]
                         ) -> Tuple[Any, Any, List[Any]]:
        """A raw-only class: a SeldonMessage in, its answer's payload out."""
        message = encode_payload(X, {"data": {"ndarray": []}}, lambda a: names)
        message["meta"] = meta
        answer = self.endpoint.raw(message)
        try:
            decoded = decode_message(answer)
        except BadDataError as exc:
            raise InternalError("%s_raw() returned something that is not a SeldonMessage: %s"
                                % (self.method, exc.message)) from exc
        tags = (decoded.meta or {}).get("tags")
        return decoded.features, tags, []

    @staticmethod
    def _branch(data: Any) -> np.ndarray:
        if isinstance(data, np.integer):
            data = int(data)
        if not isinstance(data, int) or isinstance(data, bool):
            raise BadDataError("Routing response must be int but got %s" % describe(data))
        return np.array([data], dtype=np.int64)

    def _as_output(self, name: str, data: Any) -> Tuple[str, Any, Dict[str, Any]]:
        parameters = {}  # type: Dict[str, Any]
        if isinstance(data, dict):
            data, parameters = np.array([jsonio.dumps(data)], dtype=object), {
                "content_type": "json"}
        elif isinstance(data, str):
            data, parameters = np.array([data], dtype=object), {"content_type": "str"}
        elif isinstance(data, (bytes, bytearray)):
            data = np.array([bytes(data)], dtype=object)
        elif isinstance(data, list):
            data = np.array(data)
        elif not isinstance(data, np.ndarray):  # the model's answer: a server error
            raise InternalError("Unknown data type returned as payload (must be list, numpy "
                                "array, str, bytes or dict): %s" % describe(data))
        if data.ndim >= 2 and self.component.class_names is not None:
            parameters["names"] = self.component.output_names(data)
        return name, data, parameters

    def _call_raw(self, request: Dict[str, Any], inputs: List[Tensor]
                  ) -> Tuple[List[Tuple[str, Any, Dict[str, Any]]], Dict[str, Any]]:
        given = dict(request)
        given["inputs"] = [{"name": t.name, "datatype": t.datatype, "shape": t.shape,
                            "parameters": t.parameters, "data": t.array} for t in inputs]
        answer = self.component.v2_raw(given)
        if not isinstance(answer, dict) or not isinstance(answer.get("outputs"), list):
            raise InternalError("predict_v2_raw() must return a dict with an outputs list, "
                                "got %s" % describe(answer))
        outputs = []
        for index, item in enumerate(answer["outputs"]):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise InternalError("predict_v2_raw(): outputs[%d] needs a name" % index)
            data = item.get("data")
            array = data if isinstance(data, np.ndarray) else np.array(data)
            if item.get("datatype") in DTYPES and item["datatype"] != "BYTES":
                array = array.astype(DTYPES[item["datatype"]])
            if item.get("shape") is not None:
                array = array.reshape(item["shape"])
            outputs.append((item["name"], array, dict(item.get("parameters") or {})))
        parameters = answer.get("parameters") or {}
        return outputs, parameters if isinstance(parameters, dict) else {}

    def _record_metrics(self, metrics: List[Any]) -> None:
        found = self.component.user_metrics()
        if metrics:
            found = found + validate_metrics(metrics)
        if found and self.metrics is not None:
            self.metrics.record_custom(found, METRIC_TAGS[self.method])

    # -- answer -------------------------------------------------------------------------

    @staticmethod
    def _encode_outputs(outputs: List[Tuple[str, Any, Dict[str, Any]]],
                        wanted: Optional[List[RequestedOutput]], all_binary: bool,
                        response: Dict[str, Any]) -> List[bytes]:
        by_name = {name: (array, params) for name, array, params in outputs}
        if wanted is None:
            wanted = [RequestedOutput(name, all_binary) for name, _, _ in outputs]
        chunks = []
        for request in wanted:
            if request.name not in by_name:
                raise BadDataError("unknown output %s: this model answers %s"
                                   % (shown(request.name), few(by_name, quote=True)))
            array, params = by_name[request.name]
            out, raw = encode_output(request.name, array, request.binary, params)
            response["outputs"].append(out)
            if raw is not None:
                chunks.append(raw)
        return chunks
