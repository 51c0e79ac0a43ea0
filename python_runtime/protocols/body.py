"""Find the SeldonMessage in an HTTP request, in Seldon's order.

1. multipart/form-data: every field is JSON, except ``strData`` (text); a ``binData`` file
   becomes base64, other files text;
2. a ``json=`` form field, then a ``json=`` query parameter;
3. the JSON body (``application/json``, ``*/*+json`` or no content type).
"""

import base64
import io
import re
import zlib
from typing import Any, Dict, Optional, Tuple
from urllib.parse import parse_qs

from ..codecs import jsonio
from ..codecs.limits import LIMITS
from ..errors import BadDataError, PayloadTooLarge, UnsupportedMediaType, shown

JSON_TYPES = ("application/json", "text/json")


def read_body(environ: Dict[str, Any], limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes before reading it, and
    inflated when it is sent gzip- or deflate-compressed (``Content-Encoding``)."""
    body = _read_stream(environ, limit)
    encoding = environ.get("HTTP_CONTENT_ENCODING")
    if encoding and body:
        return inflate(body, encoding.strip().lower(), limit)
    return body


# Content-Encoding -> zlib window bits (gzip header, zlib header)
_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS,
              "deflate": zlib.MAX_WBITS}


def json_object(environ: Dict[str, Any], limit: int, empty: str, wrong: str
                ) -> Dict[str, Any]:
    """The body as a JSON object (read as ``read_body`` does); 400 with ``empty`` when
    there is none, with ``wrong`` and what came when it is not an object."""
    body = read_body(environ, limit)
    if not body.strip():
        raise BadDataError(empty)
    value = jsonio.loads(body)
    if not isinstance(value, dict):
        raise BadDataError("%s, got %s" % (wrong, shown(value)))
    return value


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Decompress, never past ``limit`` bytes (a small body cannot unpack into a huge one)."""
    if encoding == "identity":
        return body
    bits = _ENCODINGS.get(encoding)
    if bits is None:
        raise UnsupportedMediaType("Content-Encoding %r is not supported: send the body "
                                   "uncompressed, gzip or deflate" % encoding[:40])
    decoder = zlib.decompressobj(bits)
    try:
        data = decoder.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadDataError("body is not valid %s data: %s" % (encoding, exc)) from exc
    if len(data) > limit:
        raise PayloadTooLarge(
            "the %s body inflates to more than the limit of %d bytes "
            "(raise MODELKILN_MAX_REQUEST_SIZE to accept it)" % (encoding, limit))
    if not decoder.eof:
        raise BadDataError("body is not complete %s data" % encoding)
    return data


def _read_stream(environ: Dict[str, Any], limit: int) -> bytes:
    length_text = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            raise BadDataError("Content-Length %r is not a number" % length_text)
        if length > limit:
            raise PayloadTooLarge(
                "request body of %d bytes exceeds the limit of %d bytes "
                "(raise MODELKILN_MAX_REQUEST_SIZE to accept it)" % (length, limit))
        return stream.read(length) if length else b""
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or (
            environ.get("wsgi.input_terminated")):
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(
                "request body exceeds the limit of %d bytes "
                "(raise MODELKILN_MAX_REQUEST_SIZE to accept it)" % limit)
        return data
    return b""


def _media_type(environ: Dict[str, Any]) -> str:
    value = environ.get("CONTENT_TYPE", "")
    if value == "application/json":  # the common case, without the parsing
        return value
    return value.split(";", 1)[0].strip().lower()


def _json_field(value: str, where: str) -> Any:
    try:
        return jsonio.loads(value.encode("utf-8"))
    except BadDataError as exc:
        raise BadDataError("%s: %s" % (where, exc.message)) from exc


_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.IGNORECASE)


def check_form_parts(content_type: str, body: bytes) -> None:
    """413 for a multipart body of more than MODELKILN_MAX_FORM_PARTS parts, counted before
    any part is parsed (Werkzeug before 2.2.3 has no such limit; later ones only count once
    they have done the work)."""
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise BadDataError("multipart body without a boundary in its Content-Type")
    parts = body.count(b"--" + found.group(1).encode("latin-1")) - 1
    if parts > LIMITS.max_form_parts:
        raise PayloadTooLarge("multipart body has %d parts, more than the limit of %d "
                              "(MODELKILN_MAX_FORM_PARTS)" % (parts, LIMITS.max_form_parts))


def _multipart(environ: Dict[str, Any], body: bytes) -> Dict[str, Any]:
    from werkzeug.formparser import parse_form_data

    check_form_parts(environ.get("CONTENT_TYPE", ""), body)
    inner = dict(environ)
    inner["wsgi.input"] = io.BytesIO(body)
    inner["CONTENT_LENGTH"] = str(len(body))
    try:
        _, form, files = parse_form_data(inner)
    except ValueError as exc:
        raise BadDataError("malformed multipart body: %s" % exc) from exc
    message = {}  # type: Dict[str, Any]
    for key in list(form) + list(files):
        if not key:
            raise BadDataError('a multipart part has no name: give every part a '
                               'Content-Disposition: form-data; name="..." header')
    for key in form:
        value = form.get(key)
        message[key] = value if key == "strData" else _json_field(value, "form field %r" % key)
    for key in files:
        content = files[key].read()
        if key == "binData":
            message[key] = base64.b64encode(content).decode("ascii")
        else:
            try:
                message[key] = content.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadDataError(
                    "file field %r is not UTF-8 text; send binary content as binData" % key
                ) from exc
    if not message:
        raise BadDataError("multipart body has no fields: send data, strData, jsonData "
                           "or a binData file")
    return message


def _json_parameter(environ: Dict[str, Any], media: str, body: bytes) -> Optional[Tuple[str, str]]:
    """(text, where it came from) of a ``json=`` form field or query parameter, if any."""
    if media == "application/x-www-form-urlencoded" and body:
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise BadDataError("form body is not valid UTF-8") from exc
        values = form.get("json")
        if values and values[0]:
            return values[0], "form field json"
    query = environ.get("QUERY_STRING")
    if query and "json=" in query:
        values = parse_qs(query, keep_blank_values=True).get("json")
        if values and values[0]:
            return values[0], "query parameter json"
    return None


def json_text(environ: Dict[str, Any], body: bytes) -> Any:
    """For payload pass-through: the ``json=`` text when there is one, else the raw body."""
    found = _json_parameter(environ, _media_type(environ), body)
    return found[0] if found else body


def request_message(environ: Dict[str, Any], body: bytes) -> Any:
    """The decoded request message (dict or list); a 400/415 that says why otherwise."""
    media = _media_type(environ)
    if media == "multipart/form-data":
        return _multipart(environ, body)
    found = _json_parameter(environ, media, body)
    if found is not None:
        return _json_field(*found)
    if media in JSON_TYPES or media.endswith("+json") or not media:
        if not body:
            raise BadDataError("Can't find JSON in data: the body is empty and there is no "
                               "json= parameter; POST a SeldonMessage as JSON")
        return jsonio.loads(body)
    if media == "application/x-www-form-urlencoded":
        if body.lstrip()[:1] in (b"{", b"["):
            # `curl -d '{...}'` labels a JSON body as a form: take it for what it is.
            return jsonio.loads(body)
        raise BadDataError(
            "form body has no json= field; send the SeldonMessage as json=<message> or as "
            "a JSON body with Content-Type: application/json")
    raise UnsupportedMediaType(
        "Content-Type %r is not supported: send JSON (application/json), a json= form field "
        "or query parameter, or multipart/form-data" % media)
