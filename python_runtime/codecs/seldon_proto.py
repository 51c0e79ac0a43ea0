"""SeldonMessage protobufs <-> the JSON-form dicts the Seldon operations take and give.

The result is what protobuf's own JSON mapping (``json_format``) gives, built directly for the
fields every call carries (tensor, ndarray, strData, binData, jsonData, puid, tags, routing,
requestPath): json_format walks every field in Python and was most of a small gRPC call.
Rare parts (tftensor, metrics, status) still go through ``json_format``. NaN and Infinity in a
google.protobuf.Value have no JSON form: they are refused, as on REST, whatever the protobuf
release (protobuf < 5 would turn them into the string "NaN").
"""

import base64
import math
from typing import Any, Dict

import numpy as np

from ..errors import BadDataError, InternalError

_NON_FINITE = ("NaN and Infinity are not valid in ndarray, jsonData or tags (as in JSON); "
               "send them in a tensor")


def value_to_python(value: Any) -> Any:
    """A google.protobuf.Value as a Python value."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            raise BadDataError(_NON_FINITE)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "list_value":
        return [value_to_python(v) for v in value.list_value.values]
    if kind == "struct_value":
        return {k: value_to_python(v) for k, v in value.struct_value.fields.items()}
    if kind == "bool_value":
        return value.bool_value
    return None  # null_value, or unset


def set_value(target: Any, value: Any) -> None:
    """Fill a google.protobuf.Value from a Python (or numpy) value."""
    if value is None:
        target.null_value = 0
    elif isinstance(value, (bool, np.bool_)):
        target.bool_value = bool(value)
    elif isinstance(value, (int, float, np.integer, np.floating)):
        target.number_value = float(value)
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, dict):
        fields = target.struct_value.fields
        for key, item in value.items():
            set_value(fields[str(key)], item)
        if not value:
            target.struct_value.SetInParent()
    elif isinstance(value, (list, tuple, np.ndarray)):
        fill_list(target.list_value, value)
    else:
        raise InternalError("the answer cannot be sent as a SeldonMessage: %s has no "
                            "google.protobuf.Value form" % type(value).__name__)


def fill_list(target: Any, values: Any) -> None:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, (list, tuple)):
        raise InternalError("the answer cannot be sent as a SeldonMessage: a list is needed "
                            "where it has %s" % type(values).__name__)
    target.SetInParent()
    for item in values:
        set_value(target.values.add(), item)


class SeldonProtoCodec(object):
    """Converts with the message classes of one descriptor pool (``protos.Protos``)."""

    def __init__(self, protos: Any) -> None:
        from google.protobuf import json_format

        self.json_format = json_format
        self.message_class = protos.message("seldon.protos.SeldonMessage")

    # -- in -----------------------------------------------------------------------------

    def to_dict(self, message: Any) -> Dict[str, Any]:
        """A request SeldonMessage; one without meta gets an empty meta (Seldon's gRPC server
        hands the model ``meta={}`` then), an empty one stays empty."""
        try:
            return self._to_dict(message)
        except UnicodeDecodeError as exc:
            # some protobuf releases check map keys (tags, struct fields) only when read
            raise BadDataError("the message holds a map key that is not UTF-8: %s" % exc
                               ) from None

    def _to_dict(self, message: Any) -> Dict[str, Any]:
        out = {}  # type: Dict[str, Any]
        which = message.WhichOneof("data_oneof")
        if which == "data":
            out["data"] = self._data(message.data)
        elif which == "strData":
            out["strData"] = message.strData
        elif which == "binData":
            out["binData"] = base64.b64encode(message.binData).decode("ascii")
        elif which == "jsonData":
            out["jsonData"] = value_to_python(message.jsonData)
        elif which == "customData":  # an Any the model unpacks itself: passed as is
            out["customData"] = message.customData
        if message.HasField("status"):
            out["status"] = self.json_format.MessageToDict(message.status)
        if message.HasField("meta"):
            out["meta"] = self._meta(message.meta)
        elif out:
            out["meta"] = {}
        return out

    def _data(self, data: Any) -> Dict[str, Any]:
        payload = {}  # type: Dict[str, Any]
        if data.names:
            payload["names"] = list(data.names)
        kind = data.WhichOneof("data_oneof")
        if kind == "tensor":
            payload["tensor"] = {"shape": list(data.tensor.shape),
                                 "values": list(data.tensor.values)}
        elif kind == "ndarray":
            payload["ndarray"] = [value_to_python(v) for v in data.ndarray.values]
        elif kind == "tftensor":
            payload["tftensor"] = self.json_format.MessageToDict(data.tftensor)
        return payload

    def _meta(self, meta: Any) -> Dict[str, Any]:
        out = {}  # type: Dict[str, Any]
        if meta.puid:
            out["puid"] = meta.puid
        if meta.tags:
            out["tags"] = {k: value_to_python(v) for k, v in meta.tags.items()}
        if meta.routing:
            out["routing"] = dict(meta.routing)
        if meta.requestPath:
            out["requestPath"] = dict(meta.requestPath)
        if meta.metrics:
            out["metrics"] = [self.json_format.MessageToDict(m) for m in meta.metrics]
        return out

    # -- out ----------------------------------------------------------------------------

    def to_message(self, answer: Dict[str, Any]) -> Any:
        """A SeldonMessage for an answer dict."""
        out = self.message_class()
        for key, value in answer.items():
            if key == "data":
                self._fill_data(out.data, value)
            elif key == "meta":
                self._fill_meta(out.meta, value)
            elif key == "strData":
                out.strData = value
            elif key == "binData":
                out.binData = base64.b64decode(value)
            elif key == "jsonData":
                set_value(out.jsonData, value)
            elif key == "customData":
                out.customData.type_url, out.customData.value = value.type_url, value.value
            elif key == "status":
                self.json_format.ParseDict(value, out.status, ignore_unknown_fields=True)
        return out

    def _fill_data(self, target: Any, data: Dict[str, Any]) -> None:
        target.SetInParent()
        names = data.get("names")
        if names:
            target.names.extend(names)
        if "tensor" in data:
            tensor = data["tensor"]
            values = tensor.get("values")
            target.tensor.shape.extend(tensor.get("shape") or [])
            target.tensor.values.extend(values.tolist() if isinstance(values, np.ndarray)
                                        else values or [])
            target.tensor.SetInParent()
        elif "ndarray" in data:
            fill_list(target.ndarray, data["ndarray"])
        elif "tftensor" in data:
            self.json_format.ParseDict(data["tftensor"], target.tftensor,
                                       ignore_unknown_fields=True)

    def _fill_meta(self, target: Any, meta: Dict[str, Any]) -> None:
        target.SetInParent()
        if meta.get("puid"):
            target.puid = meta["puid"]
        for key, value in (meta.get("tags") or {}).items():
            set_value(target.tags[str(key)], value)
        for key, value in (meta.get("routing") or {}).items():
            target.routing[str(key)] = int(value)
        for key, value in (meta.get("requestPath") or {}).items():
            target.requestPath[str(key)] = str(value)
        for metric in meta.get("metrics") or []:
            self.json_format.ParseDict(_metric(metric), target.metrics.add(),
                                       ignore_unknown_fields=True)


def _metric(metric: Dict[str, Any]) -> Dict[str, Any]:
    """A metric dict in the Metric message's JSON form (tags are strings there)."""
    out = dict(metric)
    if isinstance(out.get("tags"), dict):
        out["tags"] = {str(k): str(v) for k, v in out["tags"].items()}
    return out

