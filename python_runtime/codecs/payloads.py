"""The payload kinds of a SeldonMessage, one codec each: data, jsonData, strData, binData, and
customData (gRPC only).

Every codec names the message key it reads, decodes that value into what a user method gets
(features and names), says whether it takes a user result, and encodes one. A request is read
by the first codec (in Seldon's order) whose key it holds; an answer is written by the first
codec that takes the result.
"""

import base64
import binascii
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..errors import BadDataError
from .tensors import CODECS, NDARRAY, TENSOR, TFTENSOR, decode_data

# numpy dtype kinds that are numbers (np.issubdtype(dtype, np.number), ~10x cheaper).
NUMERIC_KINDS = frozenset("iufc")

Decoded = Tuple[Any, List[str], Any]  # features, names, the data codec (or None)
NamesFor = Callable[[np.ndarray], List[str]]


class PayloadCodec(object):
    """One payload kind of a SeldonMessage."""

    key = ""

    def decode(self, value: Any) -> Decoded:
        raise NotImplementedError

    def accepts(self, result: Any) -> bool:
        raise NotImplementedError

    def encode(self, result: Any, request_raw: Dict[str, Any], names_for: NamesFor
               ) -> Dict[str, Any]:
        raise NotImplementedError


class DataPayload(PayloadCodec):
    """``data``: ndarray, tensor or tftensor. A numeric answer keeps the request's kind
    (``tensor`` stays ``tensor``), a non-numeric one becomes ``ndarray``; with no ``data`` in
    the request a numeric answer becomes ``tensor``."""

    key = "data"

    def decode(self, value: Any) -> Decoded:
        codec, features = decode_data(value)
        names = value.get("names", [])
        if not isinstance(names, list):
            raise BadDataError('"data.names" must be a list of strings')
        return features, names, codec

    def accepts(self, result: Any) -> bool:
        return isinstance(result, (np.ndarray, list))

    def encode(self, result: Any, request_raw: Dict[str, Any], names_for: NamesFor
               ) -> Dict[str, Any]:
        if isinstance(result, np.ndarray):
            array, as_list = result, None
        else:
            try:
                array = np.array(result)
            except ValueError:  # ragged answers are still valid ndarray JSON
                array = np.array(result, dtype=object)
            as_list = result
        codec = self._codec_for(array, request_raw.get("data"))
        if codec is NDARRAY and as_list is not None:
            encoded = as_list
        else:
            encoded = codec.encode(array)
        return {"data": {codec.key: encoded, "names": names_for(array)}}

    @staticmethod
    def _codec_for(array: np.ndarray, request_data: Any) -> Any:
        if not isinstance(request_data, dict):
            return TENSOR if array.dtype.kind in NUMERIC_KINDS else NDARRAY
        if "tftensor" in request_data and array.dtype.kind in "OSb":
            return TFTENSOR  # bytes (DT_STRING) and bools (DT_BOOL) go back the same way
        if array.dtype.kind in NUMERIC_KINDS:
            for key in ("tensor", "tftensor"):
                if key in request_data:
                    return CODECS[key]
        return NDARRAY


class JsonDataPayload(PayloadCodec):
    """``jsonData``: any JSON value in; a dict answer goes out as jsonData."""

    key = "jsonData"

    def decode(self, value: Any) -> Decoded:
        return value, [], None

    def accepts(self, result: Any) -> bool:
        return isinstance(result, dict)

    def encode(self, result: Any, request_raw: Dict[str, Any], names_for: NamesFor
               ) -> Dict[str, Any]:
        return {"jsonData": result}


class StrDataPayload(PayloadCodec):
    """``strData``: text."""

    key = "strData"

    def decode(self, value: Any) -> Decoded:
        if not isinstance(value, str):
            raise BadDataError('"strData" must be a string, got %s' % type(value).__name__)
        return value, [], None

    def accepts(self, result: Any) -> bool:
        return isinstance(result, str)

    def encode(self, result: Any, request_raw: Dict[str, Any], names_for: NamesFor
               ) -> Dict[str, Any]:
        return {"strData": result}


class BinDataPayload(PayloadCodec):
    """``binData``: bytes, base64 in JSON."""

    key = "binData"

    def decode(self, value: Any) -> Decoded:
        if not isinstance(value, (str, bytes)):
            raise BadDataError('"binData" must be a base64 string')
        try:
            return base64.b64decode(value), [], None
        except (binascii.Error, ValueError) as exc:
            raise BadDataError('"binData" is not valid base64: %s' % exc) from exc

    def accepts(self, result: Any) -> bool:
        return isinstance(result, (bytes, bytearray))

    def encode(self, result: Any, request_raw: Dict[str, Any], names_for: NamesFor
               ) -> Dict[str, Any]:
        return {"binData": base64.b64encode(result).decode("ascii")}


class CustomDataPayload(PayloadCodec):
    """``customData``: a google.protobuf.Any, over gRPC only (JSON has no form for it). The
    model gets the Any and unpacks it itself; an Any it answers goes back as customData."""

    key = "customData"

    def decode(self, value: Any) -> Decoded:
        if not _is_any(value):
            raise BadDataError('"customData" is a google.protobuf.Any and can only be sent '
                               "over gRPC; over REST use jsonData, strData or binData")
        return value, [], None

    def accepts(self, result: Any) -> bool:
        return _is_any(result)

    def encode(self, result: Any, request_raw: Dict[str, Any], names_for: NamesFor
               ) -> Dict[str, Any]:
        return {"customData": result}


def _is_any(value: Any) -> bool:
    return hasattr(value, "type_url") and hasattr(value, "value") and hasattr(
        value, "SerializeToString")


DATA = DataPayload()
JSON_DATA = JsonDataPayload()
STR_DATA = StrDataPayload()
BIN_DATA = BinDataPayload()
CUSTOM_DATA = CustomDataPayload()
# Seldon's order when a request holds several payload keys.
DECODE_ORDER = (DATA, JSON_DATA, STR_DATA, BIN_DATA, CUSTOM_DATA)
ENCODE_ORDER = (JSON_DATA, BIN_DATA, STR_DATA, CUSTOM_DATA, DATA)
# The kinds a JSON message can hold (customData has no JSON form).
PAYLOAD_KEYS = tuple(codec.key for codec in DECODE_ORDER if codec is not CUSTOM_DATA)


# The codec of the types answers have most often, without asking each codec in turn.
BY_TYPE = {np.ndarray: DATA, list: DATA, dict: JSON_DATA, str: STR_DATA, bytes: BIN_DATA,
           bytearray: BIN_DATA}


def payload_for(result: Any) -> Optional[PayloadCodec]:
    """The codec that writes ``result``, or None when no payload kind takes it."""
    codec = BY_TYPE.get(type(result))
    if codec is not None:
        return codec
    for codec in ENCODE_ORDER:
        if codec.accepts(result):
            return codec
    return None
