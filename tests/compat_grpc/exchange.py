"""Make one gRPC call with seldon-core's own stubs, and compare two answers.

What is compared: the status code name; for an error, its details; for a success, the
answer as ``json_format.MessageToDict`` of seldon-core's class (strict types, key order
ignored, NaN/Infinity by spelling); and the trailing metadata. Only the values of
``meta.requestPath`` (they name the server image) are normalised, unless the deployment sets
PREDICTIVE_UNIT_ID/IMAGE (``exact_identity``).

The answer is parsed by seldon-core's generated classes; any field they do not know (a
wrong field number or wire type on our side) is reported as unknown and fails the case, so
every case also checks that modelkiln's messages are wire-compatible with seldon's.
"""

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import grpc
from google.protobuf import empty_pb2, json_format, text_format
from google.protobuf import wrappers_pb2  # noqa: F401 (registers the types CUSTOM_DATA packs)
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from ..compat.exchange import _canon_numbers, _hide_request_path
from .cases import GrpcCase, Wire

TIMEOUT = 30
PACKAGE = "seldon.protos"


def _message_class(descriptor: Any) -> Any:
    if descriptor.full_name == "google.protobuf.Empty":
        return empty_pb2.Empty
    return getattr(prediction_pb2, descriptor.name)


def method_types(service: str, method: str) -> Tuple[Any, Any]:
    """(request class, response class) of ``service.method``, from seldon's descriptors."""
    desc = prediction_pb2.DESCRIPTOR.services_by_name[service].methods_by_name[method]
    return _message_class(desc.input_type), _message_class(desc.output_type)


def build_request(case: GrpcCase) -> Tuple[Any, bytes]:
    """(message or None, its bytes): what the case sends, built with seldon's classes."""
    request_class, _ = method_types(case.service, case.method)
    spec = case.request
    if isinstance(spec, Wire):
        base = b""
        if spec.base is not None:
            base = json_format.ParseDict(spec.base, request_class()).SerializeToString()
        return None, base + spec.append
    message = request_class()
    if spec is not None:
        json_format.ParseDict(spec, message)
    return message, message.SerializeToString()


@dataclass
class Answer:
    code: str                                   # "OK" or a grpc.StatusCode name
    details: str = ""
    body: Any = None                            # MessageToDict of the answer when OK
    trailers: Dict[str, str] = field(default_factory=dict)
    unknown_fields: List[str] = field(default_factory=list)

    def show(self) -> str:
        head = "%s %r" % (self.code, self.details) if self.code != "OK" else "OK"
        parts = [head]
        if self.trailers:
            parts.append("trailers: %s" % json.dumps(self.trailers, sort_keys=True))
        if self.body is not None:
            parts.append(clip(json.dumps(self.body, ensure_ascii=False, sort_keys=True)))
        if self.unknown_fields:
            parts.append("fields seldon's classes do not know: %s" % self.unknown_fields)
        return "\n".join(parts)


def clip(text: str, limit: int = 4000) -> str:
    if len(text) <= limit:
        return text
    return text[:limit // 2] + " ...(%d characters)... " % len(text) + text[-limit // 4:]


def unknown_fields(message: Any, path: str = "") -> List[str]:
    """Paths of fields in ``message`` (recursively) that its class could not place."""
    found = []
    try:
        count = len(message.UnknownFields())
    except (AttributeError, NotImplementedError):  # pragma: no cover (other protobuf runtimes)
        count = 0
    if count:
        found.append(path or "<root>")
    for fd, value in message.ListFields():
        if fd.message_type is None:
            continue
        name = path + "." + fd.name if path else fd.name
        if fd.message_type.GetOptions().map_entry:
            if fd.message_type.fields_by_name["value"].message_type is not None:
                for key in value:
                    found.extend(unknown_fields(value[key], "%s[%s]" % (name, key)))
        elif fd.label == fd.LABEL_REPEATED:
            for i, item in enumerate(value):
                found.extend(unknown_fields(item, "%s[%d]" % (name, i)))
        else:
            found.extend(unknown_fields(value, name))
    return found


def call(channel: grpc.Channel, case: GrpcCase) -> Answer:
    """Send ``case`` on ``channel``: through the generated stub when the request is a message,
    through a bytes-in/bytes-out method when it is ``Wire``."""
    request_class, response_class = method_types(case.service, case.method)
    message, raw = build_request(case)
    if message is not None:
        stub = getattr(prediction_pb2_grpc, case.service + "Stub")(channel)
        rpc = getattr(stub, case.method)
        send = message
    else:
        rpc = channel.unary_unary("/%s.%s/%s" % (PACKAGE, case.service, case.method),
                                  request_serializer=None,
                                  response_deserializer=response_class.FromString)
        send = raw
    try:
        response, rpc_call = rpc.with_call(send, timeout=TIMEOUT)
    except grpc.RpcError as exc:
        return Answer(code=exc.code().name, details=exc.details() or "",
                      trailers=_trailers(exc.trailing_metadata()))
    return Answer(code="OK", body=_to_dict(response),
                  trailers=_trailers(rpc_call.trailing_metadata()),
                  unknown_fields=unknown_fields(response))


def _to_dict(message: Any) -> Any:
    """MessageToDict, or, for what protobuf JSON cannot hold (a NaN in a Value), a marker
    with the text format."""
    try:
        return json_format.MessageToDict(message)
    except (ValueError, TypeError, json_format.Error) as exc:
        return {"<not JSON-mappable>": str(exc),
                "text": text_format.MessageToString(message, as_one_line=True)}


def _trailers(metadata: Any) -> Dict[str, str]:
    return {k: v for k, v in (metadata or ()) if not k.startswith("grpc-")}


def normalise(answer: Answer, exact_identity: bool = False) -> Tuple[Any, ...]:
    """What is compared: (code, details, body, trailers, unknown fields)."""
    body = _canon_numbers(answer.body)
    if not exact_identity:
        body = _hide_request_path(body)
    return (answer.code, answer.details, body, answer.trailers, answer.unknown_fields)


def canonical(normalised: Tuple[Any, ...]) -> str:
    return json.dumps(list(normalised), sort_keys=True, ensure_ascii=False, allow_nan=True)


def same(a: Tuple[Any, ...], b: Tuple[Any, ...]) -> bool:
    return canonical(a) == canonical(b)


def expected_answer(diff: Any) -> Answer:
    """The Answer an ``intentional.Difference`` records."""
    return Answer(code=diff.code, details=diff.details, body=diff.body,
                  trailers=dict(diff.trailers or {}))


def explain(title: str, request: str, first: Tuple[str, Answer], second: Tuple[str, Answer],
            a_n: Optional[Tuple[Any, ...]] = None, b_n: Optional[Tuple[Any, ...]] = None
            ) -> str:
    text = "\n%s\n--- request ---\n%s\n--- %s ---\n%s\n--- %s ---\n%s\n" % (
        title, request, first[0], first[1].show(), second[0], second[1].show())
    if a_n is not None and b_n is not None:
        text += "--- compared (%s) ---\n%s\n--- compared (%s) ---\n%s\n" % (
            first[0], clip(canonical(a_n)), second[0], clip(canonical(b_n)))
    return text
