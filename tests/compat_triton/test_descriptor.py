"""modelkiln's ModelConfig descriptor (model/formats/triton_config.py, written from the field
list) against the one tritonclient ships: every message, enum, field name, number, type, label
and oneof, in the same declaration order (Triton's JSON prints fields in that order)."""

from tritonclient.grpc import model_config_pb2

from python_runtime.model.formats.triton_config import model_config_class


def shape(descriptor):
    """A comparable summary of a message descriptor and everything nested in it."""
    fields = []
    for field in descriptor.fields:
        fields.append((field.name, field.number, field.type,
                       bool(getattr(field, "is_repeated", False)
                            if hasattr(field, "is_repeated") else field.label == 3),
                       field.containing_oneof.name if field.containing_oneof else None,
                       field.message_type.full_name if field.message_type else None,
                       field.enum_type.full_name if field.enum_type else None))
    enums = [(e.name, [(v.name, v.number) for v in e.values]) for e in descriptor.enum_types]
    nested = [shape(n) for n in descriptor.nested_types]
    return (descriptor.full_name, fields, enums, nested)


def test_the_model_config_descriptor_is_tritons():
    ours = model_config_class().DESCRIPTOR.file
    theirs = model_config_pb2.DESCRIPTOR
    assert ours.package == theirs.package == "inference"
    assert sorted(ours.message_types_by_name) == sorted(theirs.message_types_by_name)
    for name, message in theirs.message_types_by_name.items():
        assert shape(ours.message_types_by_name[name]) == shape(message), name
    assert [(v.name, v.number) for v in ours.enum_types_by_name["DataType"].values] == [
        (v.name, v.number) for v in theirs.enum_types_by_name["DataType"].values]
