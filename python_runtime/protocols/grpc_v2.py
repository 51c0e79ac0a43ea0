"""The Open Inference Protocol over gRPC: ``inference.GRPCInferenceService``.

Every input, typed ``contents`` or ``raw_input_contents``, is turned into the binary form the
REST binary extension uses and decoded by the same code (``codecs.v2``), so sizes, datatypes
and declared inputs are checked exactly as on REST, and ``inference.v2`` answers. The answer
mirrors the request: raw in, ``raw_output_contents`` out; typed in, typed out, unless an
output is FP16, which has no typed field: then every output goes raw, because
``raw_output_contents`` holds all outputs in order or none.
"""

import logging
import struct
from typing import Any, Callable, Dict, Iterator, List

import numpy as np

from .. import __version__, tracing
from ..codecs.v2 import DTYPES, LITTLE, BinaryReader, split_bytes
from ..errors import (BadDataError, MicroserviceError, NotReady, RouteNotFound, as_error,
                      shown)
from ..inference.v2 import V2Calls
from ..model.context import ServingContext
from .v2 import EXTENSIONS, model_name_of

SERVICE = "inference.GRPCInferenceService"
ENABLE_FINAL = "triton_enable_empty_final_response"  # a streamed request's parameter
FINAL = "triton_final_response"                      # and its answers'
log = logging.getLogger("modelkiln")
_LENGTH = struct.Struct("<I")
# datatype -> the typed field of InferTensorContents that carries it
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents",
    "INT32": "int_contents", "INT64": "int64_contents", "UINT8": "uint_contents",
    "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


# The widest numpy type each typed field's values fit in (so nothing wraps before the check).
_WIDE = {"bool_contents": np.bool_, "int_contents": np.int64, "int64_contents": np.int64,
         "uint_contents": np.uint64, "uint64_contents": np.uint64,
         "fp32_contents": np.float64, "fp64_contents": np.float64}


def _final_flag(parameters: Any) -> bool:
    """Whether a stream's request asks for an empty final answer (tritonclient's
    ``enable_empty_final_response``)."""
    if ENABLE_FINAL not in parameters:
        return False
    value = parameters[ENABLE_FINAL]
    return value.WhichOneof("parameter_choice") == "bool_param" and value.bool_param


def parameters_to_dict(parameters: Any) -> Dict[str, Any]:
    out = {}
    try:
        for key, value in parameters.items():
            which = value.WhichOneof("parameter_choice")
            out[key] = getattr(value, which) if which else None
    except UnicodeDecodeError as exc:
        # some protobuf releases check map keys only when they are read
        raise BadDataError("a parameters key is not UTF-8: %s" % exc) from None
    return out


def dict_to_parameters(values: Dict[str, Any], target: Any) -> None:
    """Scalars keep their type; anything else (lists, objects) goes as its JSON text."""
    import json

    for key, value in values.items():
        param = target[key]
        if isinstance(value, bool):
            param.bool_param = value
        elif isinstance(value, int) and value >= 1 << 63:
            param.uint64_param = value
        elif isinstance(value, int):
            param.int64_param = value
        elif isinstance(value, float):
            param.double_param = value
        elif isinstance(value, str):
            param.string_param = value
        else:
            param.string_param = json.dumps(value, default=str)


class V2Grpc(object):
    """Handlers of GRPCInferenceService for one served model."""

    def __init__(self, ctx: ServingContext, protos: Any) -> None:
        self.ctx = ctx
        self.model = model_name_of(ctx.settings)
        self.version = ctx.settings.v2_model_version
        self.calls = V2Calls(ctx.component, ctx.metrics, ctx.signature)
        self.msg = {name: protos.message("inference." + name) for name in (
            "ServerLiveResponse", "ServerReadyResponse", "ModelReadyResponse",
            "ServerMetadataResponse", "ModelMetadataResponse", "ModelInferResponse",
            "ModelStreamInferResponse")}
        self._phases = tracing.phased(ctx.tracing, "infer", self._decode, self._call,
                                      self._encode)
        # a Triton Python-backend model: Triton's ModelConfig method and unknown-model errors
        self.triton = self.calls.triton is not None
        self.decoupled = self.triton and ctx.component.obj.decoupled
        if self.triton:
            response = protos.message("inference.ModelConfigResponse")()
            response.config.ParseFromString(ctx.component.obj.config.SerializeToString())
            self.config_response = response

    def handlers(self) -> Dict[str, Dict[str, Callable[[Any], Any]]]:
        if self.triton:
            return {SERVICE: dict(self._handlers(), ModelConfig=self._model_config)}
        return {SERVICE: self._handlers()}

    def _model_config(self, request: Any) -> Any:
        self._check_model(request.name, request.version)
        return self.config_response

    def _handlers(self) -> Dict[str, Callable[[Any], Any]]:
        return {
            "ServerLive": lambda request: self.msg["ServerLiveResponse"](live=True),
            "ServerReady": lambda request: self.msg["ServerReadyResponse"](
                ready=self.ctx.state.ready),
            "ModelReady": self._model_ready,
            "ServerMetadata": lambda request: self.msg["ServerMetadataResponse"](
                name="modelkiln", version=__version__, extensions=EXTENSIONS),
            "ModelMetadata": self._model_metadata,
            "ModelInfer": self._infer,
            "ModelStreamInfer": self._stream_infer,
        }

    def _check_model(self, name: str, version: str) -> None:
        if self.triton and (name != self.model or version not in ("", self.version)):
            from .triton import unknown_model

            raise unknown_model(name, version)
        if name != self.model:
            raise RouteNotFound("unknown model %s: this server serves %r"
                                % (shown(name), self.model))
        if version and version != self.version:
            raise RouteNotFound(
                "model %r has no version %s (%s)" % (name, shown(version), "it serves version %r"
                                                     % self.version if self.version
                                                     else "it has no versions"))

    def _model_ready(self, request: Any) -> Any:
        if self.triton and (request.name != self.model
                            or request.version not in ("", self.version)):
            return self.msg["ModelReadyResponse"](ready=False)  # as Triton answers
        self._check_model(request.name, request.version)
        return self.msg["ModelReadyResponse"](ready=self.ctx.state.ready)

    def _model_metadata(self, request: Any) -> Any:
        self._check_model(request.name, request.version)
        metadata = self.ctx.metadata or {}
        out = self.msg["ModelMetadataResponse"](
            name=self.model, platform=metadata.get("platform") or "modelkiln")
        if self.version:
            out.versions.append(self.version)
        for key, specs in (("inputs", self.ctx.signature.inputs),
                           ("outputs", self.ctx.signature.outputs)):
            for spec in specs:
                item = spec.as_metadata()
                getattr(out, key).add(name=item["name"], datatype=item["datatype"],
                                      shape=item["shape"])
        return out

    # -- inference ----------------------------------------------------------------------

    def _infer(self, request: Any) -> Any:
        if self.decoupled:  # (Triton checks the model first, then this, then the inputs)
            self._check_model(request.model_name, request.model_version)
            raise MicroserviceError("ModelInfer RPC doesn't support models with decoupled "
                                    "transaction policy", status_code=501)
        return self._phases(request)

    def _stream_infer(self, request: Any) -> Iterator[Any]:
        """ModelStreamInfer: the answers to one request of the stream, as Triton gives them,
        each a ModelStreamInferResponse made as soon as it comes. A model that answers in
        pieces (``predict_stream()``, a decoupled Triton model) gives one per piece, each
        with the parameter ``triton_final_response`` false, and, when the request asks with
        ``triton_enable_empty_final_response``, an empty one (true) after the last; any
        other model one answer (true). An error is an answer with ``error_message`` (true
        when it ends the request's answers) and the stream goes on with the next request;
        a request refused before it reaches the model carries only its id."""
        flagged = _final_flag(request.parameters)
        if flagged:
            del request.parameters[ENABLE_FINAL]  # (the server's, not the model's)
        request_id = request.id
        try:
            body, binary, raw = self._decode(request)
            answers = self.ctx.call_model(self.calls.infer_stream, body, binary)
        except Exception as exc:
            yield self._stream_error(exc, request_id, True)
            return
        single = not self.calls.answers_in_pieces
        try:
            while True:
                try:
                    item = next(answers)
                except StopIteration:
                    break
                except Exception as exc:  # a generator that raised: its request is over
                    yield self._stream_error(exc, request_id, True)
                    return
                if isinstance(item, MicroserviceError):  # an error response (Triton's)
                    yield self._stream_error(item, request_id, single)
                    continue
                answer = self._response(item[0], item[1], raw)
                answer.parameters[FINAL].bool_param = single
                yield self.msg["ModelStreamInferResponse"](infer_response=answer)
        finally:
            close = getattr(answers, "close", None)
            if close is not None:  # (the client went away: the model's generator ends)
                close()
        if flagged and not single:
            yield self._final(request_id, request.model_version)

    def _stream_error(self, exc: BaseException, request_id: str, final: bool) -> Any:
        error = as_error(exc)
        answer = self.msg["ModelStreamInferResponse"](error_message=error.message)
        answer.infer_response.id = request_id
        if error.status_code >= 500 and not isinstance(error, NotReady):  # the model's
            if not isinstance(exc, MicroserviceError):
                log.error("ModelStreamInfer failed: %s", error.message, exc_info=exc)
            answer.infer_response.model_name = self.model
            answer.infer_response.parameters[FINAL].bool_param = final
        return answer

    def _final(self, request_id: str, version: str) -> Any:
        answer = self.msg["ModelInferResponse"](model_name=self.model, model_version=version,
                                                id=request_id)
        answer.parameters[FINAL].bool_param = True
        return self.msg["ModelStreamInferResponse"](infer_response=answer)

    def _decode(self, request: Any) -> Any:
        self._check_model(request.model_name, request.model_version)
        ctx = self.ctx
        ctx.state.check()
        raw = list(request.raw_input_contents)
        if raw and len(raw) != len(request.inputs):
            raise BadDataError("raw_input_contents has %d entries for %d inputs: give every "
                               "input's data there, or none" % (len(raw), len(request.inputs)))
        chunks = []  # type: List[bytes]
        inputs = []
        for index, tensor in enumerate(request.inputs):
            data = raw[index] if raw else self._contents_as_bytes(tensor)
            chunks.append(data)
            params = parameters_to_dict(tensor.parameters)
            params["binary_data_size"] = len(data)
            inputs.append({"name": tensor.name, "datatype": tensor.datatype,
                           "shape": list(tensor.shape), "parameters": params})
        body = {"inputs": inputs}  # type: Dict[str, Any]
        if request.id:
            body["id"] = request.id
        parameters = parameters_to_dict(request.parameters)
        if parameters:
            body["parameters"] = parameters
        if len(request.outputs):
            body["outputs"] = [{"name": o.name} for o in request.outputs]
        # Outputs always come back from the shared code in binary; typed contents are made
        # from those bytes when the request used typed contents.
        body.setdefault("parameters", {})["binary_data_output"] = True
        return body, BinaryReader(b"".join(chunks)), bool(raw)

    def _call(self, decoded: Any) -> Any:
        body, binary, raw = decoded
        response, out_chunks = self.ctx.call_model(self.calls.infer, body, binary)
        return response, out_chunks, raw

    def _encode(self, result: Any) -> Any:
        return self._response(*result)

    @staticmethod
    def _contents_as_bytes(tensor: Any) -> bytes:
        field = CONTENTS_FIELD.get(tensor.datatype)
        if field is None:
            if tensor.datatype in DTYPES:  # FP16: no typed field exists
                raise BadDataError("input %s: %s data must come in raw_input_contents"
                                   % (shown(tensor.name), tensor.datatype))
            return b""  # the shared decoder names the unknown datatype
        values = getattr(tensor.contents, field)
        if tensor.datatype == "BYTES":
            return b"".join(_LENGTH.pack(len(v)) + v for v in values)
        dtype = DTYPES[tensor.datatype]
        array = np.array(values, dtype=_WIDE[field])
        if array.size and dtype.kind in "iu":
            info = np.iinfo(dtype)
            if array.min() < info.min or array.max() > info.max:
                raise BadDataError("input %s: a value is out of range for %s"
                                   % (shown(tensor.name), tensor.datatype))
        return array.astype(LITTLE[tensor.datatype]).tobytes()

    def _response(self, response: Dict[str, Any], chunks: List[bytes], raw: bool) -> Any:
        out = self.msg["ModelInferResponse"](model_name=self.model,
                                             model_version=self.version or "",
                                             id=response.get("id") or "")
        dict_to_parameters(response.get("parameters") or {}, out.parameters)
        raw = raw or any(item["datatype"] not in CONTENTS_FIELD for item in response["outputs"])
        for item, data in zip(response["outputs"], chunks):
            params = dict(item.get("parameters") or {})
            params.pop("binary_data_size", None)
            tensor = out.outputs.add(name=item["name"], datatype=item["datatype"],
                                     shape=item["shape"])
            dict_to_parameters(params, tensor.parameters)
            if raw:
                out.raw_output_contents.append(data)
            else:
                self._fill_contents(tensor, CONTENTS_FIELD[item["datatype"]], item["datatype"],
                                    data)
        return out

    @staticmethod
    def _fill_contents(tensor: Any, field: str, datatype: str, data: bytes) -> None:
        target = getattr(tensor.contents, field)
        if datatype == "BYTES":
            target.extend(split_bytes(memoryview(data), tensor.name))
            return
        target.extend(np.frombuffer(data, dtype=LITTLE[datatype]).tolist())

