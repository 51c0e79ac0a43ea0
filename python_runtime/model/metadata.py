"""Model metadata for ``GET /metadata``: ``init_metadata()`` overlaid by ``MODEL_METADATA``.

Validated against Seldon's two accepted shapes for inputs/outputs: v1
``{"messagetype", "schema"}`` and v2 ``{"name", "datatype", "shape"}``.
"""

from typing import Any, Dict, List, Optional, Tuple

from ..errors import BadMetadataError

TOP_LEVEL = {"name": str, "versions": list, "platform": str, "inputs": list,
             "outputs": list, "custom": dict}
V1_TYPES = ("tensor", "ndarray", "tftensor")
V1_OTHER = ("jsonData", "strData", "binData")
V2_DATATYPES = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                "INT64", "FP16", "FP32", "FP64", "BYTES")


def _check_io(where: str, items: List[Any]) -> None:
    for index, item in enumerate(items):
        place = "%s[%d]" % (where, index)
        if not isinstance(item, dict):
            raise ValueError("%s must be an object" % place)
        if "messagetype" in item:
            extra = set(item) - {"messagetype", "schema"}
            if extra:
                raise ValueError("%s: unexpected keys %s" % (place, ", ".join(sorted(extra))))
            kind = item["messagetype"]
            if not isinstance(kind, str):
                raise ValueError("%s.messagetype must be a string" % place)
            schema = item.get("schema", {})
            if not isinstance(schema, dict):
                raise ValueError("%s.schema must be an object" % place)
            if kind in V1_TYPES:
                extra = set(schema) - {"names", "shape"}
                if extra:
                    raise ValueError("%s.schema: unexpected keys %s"
                                     % (place, ", ".join(sorted(extra))))
                if not all(isinstance(n, str) for n in schema.get("names", [])):
                    raise ValueError("%s.schema.names must be strings" % place)
                if not all(isinstance(d, int) for d in schema.get("shape", [])):
                    raise ValueError("%s.schema.shape must be integers" % place)
            elif kind in ("strData", "binData") and "schema" in item:
                raise ValueError("%s: %s takes no schema" % (place, kind))
        else:
            extra = set(item) - {"name", "datatype", "shape"}
            if extra:
                raise ValueError("%s: unexpected keys %s (expected messagetype/schema or "
                                 "name/datatype/shape)" % (place, ", ".join(sorted(extra))))
            if "name" in item and not isinstance(item["name"], str):
                raise ValueError("%s.name must be a string" % place)
            if "datatype" in item and item["datatype"] not in V2_DATATYPES:
                raise ValueError("%s.datatype must be one of %s" % (place, ", ".join(V2_DATATYPES)))
            if not all(isinstance(d, int) for d in item.get("shape", [])):
                raise ValueError("%s.shape must be integers" % place)


def validate(meta: Dict[str, Any]) -> Dict[str, Any]:
    """Raise ValueError naming the first problem in ``meta``."""
    for key, value in meta.items():
        if key not in TOP_LEVEL:
            raise ValueError("unexpected key %r (allowed: %s)" % (key, ", ".join(TOP_LEVEL)))
        if not isinstance(value, TOP_LEVEL[key]):
            raise ValueError("%s must be a %s" % (key, TOP_LEVEL[key].__name__))
    if not all(isinstance(v, str) for v in meta.get("versions", [])):
        raise ValueError("versions must be strings")
    if not all(isinstance(v, str) for v in meta.get("custom", {}).values()):
        raise ValueError("custom values must be strings")
    _check_io("inputs", meta.get("inputs", []))
    _check_io("outputs", meta.get("outputs", []))
    return meta


def build_metadata(init_metadata: Any, model_metadata: Optional[str], image: Optional[str]
                   ) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(metadata, None) or (None, reason it is unavailable)."""
    import yaml  # only needed once, at start-up

    user = {}  # type: Dict[str, Any]
    if init_metadata is not None:
        try:
            user = init_metadata()
        except Exception as exc:  # the user's hook failed: report it on /metadata
            return None, "init_metadata() raised %s: %s" % (type(exc).__name__, exc)
        if not isinstance(user, dict):
            return None, "init_metadata() must return a dict, got %s" % type(user).__name__
    env = {}  # type: Dict[str, Any]
    if model_metadata:
        try:
            env = yaml.safe_load(model_metadata) or {}
        except yaml.YAMLError as exc:
            return None, "MODEL_METADATA is not valid YAML/JSON: %s" % exc
        if not isinstance(env, dict):
            return None, "MODEL_METADATA must be a mapping, got %s" % type(env).__name__
    if image:
        name, _, version = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    else:
        name, version = "", ""
    meta = {"name": name, "versions": [version], "platform": "", "inputs": [], "outputs": [],
            "custom": {}}
    meta.update(user)
    meta.update(env)
    try:
        return validate(meta), None
    except ValueError as exc:
        return None, "invalid model metadata: %s" % exc


def metadata_or_error(metadata: Optional[Dict[str, Any]], reason: Optional[str]) -> Dict[str, Any]:
    if metadata is None:
        raise BadMetadataError("Model metadata unavailable: %s" % reason)
    return metadata
