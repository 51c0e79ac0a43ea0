"""Protobuf messages declared in Python and built at run time into a descriptor pool: no
generated code ties the runtime to one protobuf release (the py36 image has protobuf 3.19, the
py311 image 7.x).

A file is a dict: ``package``, ``deps`` (files it imports), ``enums`` ({name: [(value, number)]}),
``messages`` and ``services``. A message is ``(name, fields, nested messages, oneof names,
nested enums)``; a field is ``(name, number, kind, message or enum type, repeated, oneof
index)``, or ``(name, number, "map", (key kind, value kind or type name))`` for a map, which
becomes a repeated MapEntry message. Fields are declared in the order JSON prints them.

Used by ``protocols.protos`` (the gRPC services) and ``model.formats.triton_config`` (Triton's
model configuration). May import nothing of modelkiln.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

# field kinds (FieldDescriptorProto.Type)
DOUBLE, FLOAT, INT64, UINT64, INT32, BOOL, STRING, MESSAGE, BYTES, UINT32, ENUM = (
    1, 2, 3, 4, 5, 8, 9, 11, 12, 13, 14)

# (name, number, kind, message or enum type, repeated, oneof); a "map" kind is a pair
# (key kind, value kind or type name) and becomes a repeated MapEntry message.
Field = Tuple[Any, ...]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _add_message(scope: str, container: Any, name: str, fields: Sequence[Field],
                 nested: Sequence[Any] = (), oneofs: Sequence[str] = (),
                 enums: Optional[Dict[str, List[Tuple[str, int]]]] = None) -> None:
    """Add message ``name`` (full name ``scope.name``) to ``container``."""
    from google.protobuf import descriptor_pb2

    FDP = descriptor_pb2.FieldDescriptorProto
    full_name = "%s.%s" % (scope, name)
    message = container.add(name=name)
    for oneof in oneofs:
        message.oneof_decl.add(name=oneof)
    for enum_name, values in (enums or {}).items():
        enum = message.enum_type.add(name=enum_name)
        for value_name, number in values:
            enum.value.add(name=value_name, number=number)
    for child in nested:
        _add_message(full_name, message.nested_type, *child)
    for spec in fields:
        fname, number, kind = spec[0], spec[1], spec[2]
        field = message.field.add(name=fname, number=number, json_name=_camel(fname))
        if kind == "map":
            key_kind, value = spec[3]
            # protoc's name: the field's, in CamelCase, then Entry
            entry_name = "".join(p[:1].upper() + p[1:] for p in fname.split("_")) + "Entry"
            entry = message.nested_type.add(name=entry_name)
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, type=key_kind, label=FDP.LABEL_OPTIONAL,
                            json_name="key")
            value_field = entry.field.add(name="value", number=2, label=FDP.LABEL_OPTIONAL,
                                          json_name="value")
            if isinstance(value, str):
                value_field.type, value_field.type_name = MESSAGE, value
            else:
                value_field.type = value
            field.type = MESSAGE
            field.label = FDP.LABEL_REPEATED
            field.type_name = ".%s.%s" % (full_name, entry_name)
            continue
        type_name = spec[3] if len(spec) > 3 else None
        repeated = spec[4] if len(spec) > 4 else False
        oneof = spec[5] if len(spec) > 5 else None
        field.type = kind
        field.label = FDP.LABEL_REPEATED if repeated else FDP.LABEL_OPTIONAL
        if type_name:
            field.type_name = type_name
        if oneof is not None:
            field.oneof_index = oneof


def file_proto(name: str, spec: Dict[str, Any]) -> Any:
    from google.protobuf import descriptor_pb2

    proto = descriptor_pb2.FileDescriptorProto(name=name, package=spec["package"],
                                               syntax="proto3")
    proto.dependency.extend(spec.get("deps", []))
    for enum_name, values in spec["enums"].items():
        enum = proto.enum_type.add(name=enum_name)
        for value_name, number in values:
            enum.value.add(name=value_name, number=number)
    for message in spec["messages"]:
        _add_message(spec["package"], proto.message_type, *message)
    for service_name, methods in spec.get("services", {}).items():
        service = proto.service.add(name=service_name)
        for method, request, response, *streaming in methods:
            service.method.add(name=method, input_type=request, output_type=response,
                               client_streaming=bool(streaming), server_streaming=bool(streaming))
    return proto


def message_class(pool: Any, full_name: str) -> Any:
    from google.protobuf import message_factory

    descriptor = pool.FindMessageTypeByName(full_name)
    get_class = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.21
    if get_class is not None:
        return get_class(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)
