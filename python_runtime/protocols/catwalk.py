"""catwalk's REST API, for a catwalk model folder (``model.formats.catwalk``), answered as
catwalk 0.1's own server answers it (``tests/compat_catwalk`` compares the two):

- ``POST /predict``: ``{correlation_id?, model?: {name, version}, input, extra_data?}`` in, the
  same object out with ``output`` added (a UUID4 ``correlation_id`` and the loaded ``model``
  filled in when absent, ``extra_data`` untouched). 400 ``Invalid POST data: JSON parse
  error.`` for a body that is not JSON, ``Invalid POST data: <the schema's message>`` for one
  that does not fit model.yml's input schema; 404 ``Model not found.`` when ``model`` names
  another name or version. A body is read as JSON only when its Content-Type says JSON
  (``application/json`` or ``application/*+json``), as Flask does: any other body counts as
  no body (``null``).
- ``GET /status``: an empty 200; ``GET /info``: model.yml as JSON.

Errors are ``{"output": {"message": ...}}``. For a catwalk folder, this ``/predict`` is served
instead of Seldon's.
"""

import json
from typing import Any, Dict, List

from ..errors import BadDataError, MicroserviceError
from .body import read_body
from .routes import JSON, Answer, Doc, Route

HTML = "text/html; charset=utf-8"  # what catwalk's /status answers with (Flask's default)
REQUEST = {
    "type": "object",
    "required": ["input"],
    "properties": {
        "correlation_id": {"type": "string"},
        "model": {"type": "object", "properties": {"name": {"type": "string"},
                                                   "version": {"type": "string"}}},
        "input": {},
        "extra_data": {"type": "object"},
    },
}


def _dumps(document: Any) -> bytes:
    # catwalk answers with json.dumps: NaN and Infinity as Python writes them, which only
    # lenient parsers read (modelkiln's own answers elsewhere never hold them)
    return json.dumps(document).encode("utf-8")


def _not_json(constant: str) -> Any:
    raise ValueError("%s is not JSON" % constant)


def parse(body: bytes) -> Any:
    """A request body as catwalk's Flask reads it (the standard library's parser: integers of
    any size), except that NaN and Infinity, which are not JSON, are refused like any other
    body that is not JSON."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadDataError("Invalid POST data: JSON parse error.") from None


def is_json(content_type: str) -> bool:
    """Whether Flask's ``request.is_json`` would say so."""
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or (mime.startswith("application/")
                                          and mime.endswith("+json"))


class CatwalkRest(object):
    """catwalk's three routes for the served catwalk model."""

    name = "catwalk"
    prefix = None
    docs_path = "/info"
    error_schema = "CatwalkError"
    overrides = ("/predict",)  # Seldon's /predict is not served for a catwalk folder

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.info = _dumps(ctx.component.obj.info)

    @property
    def model(self) -> Any:
        return self.ctx.component.obj

    def error_answer(self, error: MicroserviceError) -> Answer:
        return error.status_code, _dumps({"output": {"message": error.message}}), JSON

    def routes(self) -> List[Route]:
        return [
            Route("/predict", ("POST",), self._predict, self,
                  Doc("catwalk: run the model on the request's input", request=REQUEST,
                      response=REQUEST,
                      errors=((400, "Not JSON, or not what model.yml's schema says"),
                              (404, "The model named is not the one loaded"),
                              (500, "Model error")))),
            Route("/status", ("GET",), self._status, self, Doc("catwalk: the health check")),
            Route("/info", ("GET",), self._info, self, Doc("catwalk: model.yml as JSON")),
        ]

    def _status(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self.ctx.state.check()
        return 200, b"", HTML

    def _info(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, self.info, JSON

    def _predict(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        ctx = self.ctx
        ctx.state.check()
        body = read_body(environ, ctx.limit)
        data = None
        if is_json(environ.get("CONTENT_TYPE") or ""):
            data = parse(body)
        model = self.model
        problem = model.check(data)
        if problem is not None:
            raise BadDataError("Invalid POST data: " + problem)
        if not model.complete(data):
            data["output"] = {"message": "Model not found."}
            return 404, _dumps(data), JSON
        data["output"] = ctx.call(model.run, data)
        return 200, _dumps(data), JSON
