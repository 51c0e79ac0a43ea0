"""Seldon Core v1 over gRPC: the ``seldon.protos`` services on ``inference.seldon``.

A request message becomes the same dict the REST routes decode (protobuf's JSON mapping, with
a direct path for ``data.tensor``, the common and large case), the same operation answers it,
and the answer dict becomes a SeldonMessage. So every payload kind, meta (puid, tags, routing,
requestPath, metrics), custom metrics and tags behave as on REST; errors become gRPC status
codes (``grpc_server.status_for``).
"""

import json
from typing import Any, Callable, Dict

from .. import tracing
from ..codecs.seldon_proto import SeldonProtoCodec
from ..errors import BadDataError, InternalError
from ..inference.seldon import SeldonCalls
from ..model.context import ServingContext
from ..model.metadata import metadata_or_error

PREFIX = "seldon.protos."


class SeldonGrpc(object):
    """Handlers for every Seldon service method, by full service name and method name."""

    def __init__(self, ctx: ServingContext, protos: Any) -> None:
        from google.protobuf import json_format

        self.ctx = ctx
        self.json_format = json_format
        self.codec = SeldonProtoCodec(protos)
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
            return self.codec.to_dict(message)
        if descriptor == "SeldonMessageList":
            return {"seldonMessages": [self.codec.to_dict(m) for m in message.seldonMessages]}
        out = {}  # type: Dict[str, Any]  (a Feedback)
        for key in ("request", "response", "truth"):
            if message.HasField(key):
                out[key] = self.codec.to_dict(getattr(message, key))
        out["reward"] = message.reward
        return out

    def to_message(self, answer: Any) -> Any:
        """A SeldonMessage for an operation's answer (a dict, or bytes/str from a raw method
        in payload pass-through, which must then be a SeldonMessage's JSON)."""
        if isinstance(answer, (bytes, bytearray, str)):
            try:
                answer = json.loads(answer)
            except ValueError as exc:
                raise BadDataError("the answer is not a SeldonMessage: %s" % exc) from exc
        if not isinstance(answer, dict):
            raise InternalError("the answer cannot be sent as a SeldonMessage: %s"
                                % type(answer).__name__)
        try:
            return self.codec.to_message(answer)
        except (self.json_format.ParseError, TypeError, ValueError) as exc:
            raise InternalError("the answer cannot be sent as a SeldonMessage: %s"
                                % exc) from exc

    # -- handlers -----------------------------------------------------------------------

    def _message_call(self, operation: Callable[[Any], Any]) -> Callable[[Any], Any]:
        ctx = self.ctx
        endpoint = self.calls.endpoints[operation.__name__]

        def run(request: Any) -> Any:
            return ctx.call_model(operation, request)

        phases = tracing.phased(ctx.tracing, operation.__name__, self.to_dict, run,
                                self.to_message)

        def handle(request: Any) -> Any:
            ctx.state.check()
            if endpoint.raw is not None:
                return self._call_raw(endpoint, request)
            return phases(request)

        return handle

    def _call_raw(self, endpoint: Any, request: Any) -> Any:
        """A raw method gets the message itself, as Seldon's gRPC server hands it over, and
        may answer a message (ours or one of seldon-core's classes) or a dict."""
        if endpoint.name == "send_feedback" and self.ctx.metrics is not None:
            self.ctx.metrics.record_feedback(float(request.reward))
        answer = self.ctx.call(endpoint.raw, request)
        if hasattr(answer, "SerializeToString") and hasattr(answer, "DESCRIPTOR"):
            if answer.DESCRIPTOR.full_name != PREFIX + "SeldonMessage":
                raise InternalError("%s_raw() must answer a SeldonMessage, got %s"
                                    % (endpoint.name, answer.DESCRIPTOR.full_name))
            out = self.message_class.FromString(answer.SerializeToString())
        else:
            out = self.to_message(answer)
        if out.HasField("meta") and len(out.meta.metrics):
            self.calls.raw_metrics(self.codec.to_dict(out), endpoint.name)
        return out

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

