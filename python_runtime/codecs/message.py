"""SeldonMessage: decode a request into its parts, encode a user result into a response.

What each payload kind (data, jsonData, strData, binData) means is in ``payloads``; this
module picks the codec, checks ``meta`` and builds the response's ``meta`` as Seldon does.
"""

from typing import Any, Callable, Dict, List, Optional

import numpy as np

from ..errors import BadDataError, few, shown
from .payloads import DECODE_ORDER, PAYLOAD_KEYS, payload_for


class Message(object):
    """The parts of a request message a user method needs."""

    __slots__ = ("raw", "kind", "features", "names", "meta", "codec")

    def __init__(self, raw: Dict[str, Any], kind: str, features: Any, names: List[str],
                 meta: Optional[Dict[str, Any]], codec: Any) -> None:
        self.raw = raw
        self.kind = kind
        self.features = features
        self.names = names
        self.meta = meta
        self.codec = codec


def describe(value: Any) -> str:
    return shown(value, 120)


# meta field -> (type it must have, how to say it)
_META_TYPES = (("tags", dict, "an object"), ("routing", dict, "an object"),
               ("requestPath", dict, "an object"), ("metrics", list, "a list"))


def check_meta(meta: Any) -> None:
    """400 unless ``meta`` and the fields the server merges have the right types."""
    if not isinstance(meta, dict):
        raise BadDataError('"meta" must be an object, got %s' % type(meta).__name__)
    for key, kind, spelled in _META_TYPES:
        value = meta.get(key)
        if value is not None and not isinstance(value, kind):
            raise BadDataError('"meta.%s" must be %s, got %s' % (key, spelled, describe(value)))
    for metric in meta.get("metrics") or ():
        if not isinstance(metric, dict):
            raise BadDataError('each of "meta.metrics" must be an object, got %s'
                               % describe(metric))


def decode_message(raw: Any) -> Message:
    """Split a request message into features, names and meta; 400 when it is not one."""
    if not isinstance(raw, dict):
        raise BadDataError(
            "Invalid request data type: a SeldonMessage is a JSON object, got %s %s"
            % (type(raw).__name__, describe(raw))
        )
    meta = raw.get("meta")
    if meta is not None:
        check_meta(meta)
    for codec in DECODE_ORDER:
        if codec.key in raw:
            features, names, data_codec = codec.decode(raw[codec.key])
            return Message(raw, codec.key, features, names, meta, data_codec)
    raise BadDataError(
        "Invalid request data type: the message has none of %s (keys: %s)"
        % (", ".join(PAYLOAD_KEYS), few(sorted(raw)) or "none")
    )


def encode_payload(
    result: Any,
    request_raw: Dict[str, Any],
    names_for: Callable[[np.ndarray], List[str]],
) -> Dict[str, Any]:
    """The payload part of a response for ``result`` (without ``meta``)."""
    codec = payload_for(result)
    if codec is None:
        raise BadDataError(
            "Unknown data type returned as payload (must be list, numpy array, str, bytes "
            "or dict): %s" % describe(result)
        )
    return codec.encode(result, request_raw, names_for)


def build_meta(
    request_meta: Optional[Dict[str, Any]],
    request_raw: Dict[str, Any],
    tags: List[Optional[Dict[str, Any]]],
    metrics: List[Dict[str, Any]],
    own_request_path: Dict[str, str],
) -> Dict[str, Any]:
    """Response ``meta``: request tags, then each dict of ``tags`` merged in order;
    request metrics then ``metrics``; the request's ``puid``; ``requestPath``."""
    meta = {}  # type: Dict[str, Any]
    if request_meta:  # already checked by check_meta
        merged_tags = dict(request_meta.get("tags") or {})
        all_metrics = list(request_meta.get("metrics") or [])
        path = request_meta.get("requestPath") or {}
    else:
        merged_tags, all_metrics, path = {}, [], {}
    for extra in tags:
        if extra:
            merged_tags.update(extra)
    all_metrics.extend(metrics)
    if merged_tags:
        meta["tags"] = merged_tags
    if all_metrics:
        meta["metrics"] = all_metrics
    req_meta = request_raw.get("meta")
    puid = req_meta.get("puid") if isinstance(req_meta, dict) else None
    if puid:
        meta["puid"] = puid
    if own_request_path or path:
        full = dict(own_request_path)
        full.update(path)
        meta["requestPath"] = full
    return meta


def _floats(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, bool) or not isinstance(value, (int, list)):
        return value
    if isinstance(value, int):
        return float(value)
    return [_floats(v) for v in value]


def protobuf_shaped(answer: Dict[str, Any]) -> Dict[str, Any]:
    """The answer as Seldon's protobuf round trip prints it (its feedback route does one):
    numbers in ``data`` are doubles, and empty ``names`` / ``values`` lists are left out."""
    data = answer.get("data")
    if not isinstance(data, dict):
        return answer
    shaped = {}  # type: Dict[str, Any]
    for key, value in data.items():
        if key == "names":
            if value:
                shaped[key] = value
        elif key == "ndarray":
            shaped[key] = _floats(value)
        elif key == "tensor":
            tensor = {"shape": value["shape"]}
            if len(value["values"]):
                tensor["values"] = _floats(value["values"])
            shaped[key] = tensor
        else:
            shaped[key] = value
    return dict(answer, data=shaped)
