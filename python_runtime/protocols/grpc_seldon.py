"""Seldon Core v1 over gRPC: the ``seldon.protos`` services on ``inference.seldon``.

A request message becomes the same dict the REST routes decode (protobuf's JSON mapping, with
a direct path for ``data.tensor``, the common and large case), the same operation answers it,
and the answer dict becomes a SeldonMessage. So every payload kind, meta (puid, tags, routing,
requestPath, metrics), custom metrics and tags behave as on REST; errors become gRPC status
codes (``grpc_server.status_for``).
"""

import json
from typing import Any, Callable, Dict

import numpy as np

from ..codecs import jsonio
from ..context import ServingContext
from ..errors import BadDataError
from ..inference.seldon import SeldonCalls
from ..metadata import metadata_or_error

PREFIX = "seldon.protos."


class SeldonGrpc(object):
    """Handlers for every Seldon service method, by full service name and method name."""

    def __init__(self, ctx: ServingContext, protos: Any) -> None:
        from google.protobuf import json_format

        self.ctx = ctx
        self.json_format = json_format
        settings = ctx.settings
        self.calls = SeldonCalls(ctx.component, ctx.metrics, settings.request_path,
                                 settings.unit_id, ctx.signature)
        self.message_class = protos.message(PREFIX + "SeldonMessage")
        self.metadata_class = protos.message(PREFIX + "SeldonModelMetadata")
        self.graph_class = protos.message(PREFIX + "SeldonGraphMetadata")

    def handlers(self) -> Dict[str, Dict[str, Callable[[Any], Any]]]:
        predict = self._message_call(self.calls.predict)
        transform_input = self._message_call(self.calls.transform_input)
        transform_output = self._message_call(self.calls.transform_output)
        route = self._message_call(self.calls.route)
        aggregate = self._message_call(self.calls.aggregate)
        feedback = self._message_call(self.calls.send_feedback)
        return {
            PREFIX + "Generic": {"TransformInput": transform_input,
                                 "TransformOutput": transform_output, "Route": route,
                                 "Aggregate": aggregate, "SendFeedback": feedback},
            PREFIX + "Model": {"Predict": predict, "SendFeedback": feedback,
                               "Metadata": self._metadata},
            PREFIX + "Router": {"Route": route, "SendFeedback": feedback},
            PREFIX + "Transformer": {"TransformInput": transform_input},
            PREFIX + "OutputTransformer": {"TransformOutput": transform_output},
            PREFIX + "Combiner": {"Aggregate": aggregate},
            PREFIX + "Seldon": {"Predict": predict, "SendFeedback": feedback,
                                "ModelMetadata": self._metadata,
                                "GraphMetadata": self._graph_metadata},
        }

    # -- messages <-> dicts -------------------------------------------------------------

    def to_dict(self, message: Any) -> Any:
        """The JSON form of a request message; SeldonMessageList becomes its list form."""
        descriptor = message.DESCRIPTOR.name
        if descriptor == "SeldonMessage":
            return self._seldon_message(message)
        if descriptor == "SeldonMessageList":
            return {"seldonMessages": [self._seldon_message(m) for m in message.seldonMessages]}
        return self.json_format.MessageToDict(message)

    def _seldon_message(self, message: Any) -> Dict[str, Any]:
        data = message.data
        if message.WhichOneof("data_oneof") == "data" and data.WhichOneof(
                "data_oneof") == "tensor":
            tensor = data.tensor
            payload = {"tensor": {"shape": list(tensor.shape),
                                  "values": list(tensor.values)}}  # type: Dict[str, Any]
            if data.names:
                payload["names"] = list(data.names)
            out = {"data": payload}  # type: Dict[str, Any]
            if message.HasField("meta"):
                out["meta"] = self.json_format.MessageToDict(message.meta)
            return out
        return self.json_format.MessageToDict(message)

    def to_message(self, answer: Any) -> Any:
        """A SeldonMessage for an operation's answer (a dict, or bytes/str from a raw method
        in payload pass-through, which must then be a SeldonMessage's JSON)."""
        if isinstance(answer, (bytes, bytearray, str)):
            try:
                answer = json.loads(answer)
            except ValueError as exc:
                raise BadDataError("the answer is not a SeldonMessage: %s" % exc) from exc
        out = self.message_class()
        data = answer.get("data") if isinstance(answer, dict) else None
        tensor = data.get("tensor") if isinstance(data, dict) else None
        if isinstance(tensor, dict) and set(data) <= {"tensor", "names"}:
            values = tensor.get("values")
            out.data.tensor.shape.extend(tensor.get("shape") or [])
            out.data.tensor.values.extend(values.tolist() if isinstance(values, np.ndarray)
                                          else values or [])
            out.data.names.extend(data.get("names") or [])
            answer = dict(answer)
            del answer["data"]
        if answer:
            self.json_format.ParseDict(json.loads(jsonio.dumps(answer)), out,
                                       ignore_unknown_fields=True)
        return out

    # -- handlers -----------------------------------------------------------------------

    def _message_call(self, operation: Callable[[Any], Any]) -> Callable[[Any], Any]:
        ctx = self.ctx

        def handle(request: Any) -> Any:
            ctx.state.check()
            answer = ctx.call(operation, self.to_dict(request))
            return self.to_message(answer)

        return handle

    def _metadata_dict(self) -> Dict[str, Any]:
        return metadata_or_error(self.ctx.metadata, self.ctx.metadata_error)

    def _metadata(self, request: Any) -> Any:
        out = self.metadata_class()
        self.json_format.ParseDict(self._metadata_dict(), out, ignore_unknown_fields=True)
        return out

    def _graph_metadata(self, request: Any) -> Any:
        metadata = self._metadata_dict()
        name = self.ctx.settings.unit_id or metadata.get("name") or "model"
        out = self.graph_class(name=name)
        self.json_format.ParseDict(metadata, out.models[name], ignore_unknown_fields=True)
        for key in ("inputs", "outputs"):
            for item in metadata.get(key) or ():
                self.json_format.ParseDict(item, getattr(out, key).add(),
                                           ignore_unknown_fields=True)
        return out
