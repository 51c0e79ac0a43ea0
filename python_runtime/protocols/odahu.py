"""ODAHU's model REST API, beside the others on the REST port: ``GET /api/model/info`` (an
OpenAPI document of the invoke call, with the model's declared input columns) and ``POST
/api/model/invoke`` (``{"columns": [...], "data": [[...]]}`` in, ``{"prediction": [[...]],
"columns": [...]}`` out), served by the model's ``predict`` as one ``ndarray`` message.
Errors are ``{"message": "..."}``.
"""

from typing import Any, Dict, List

from ..codecs import jsonio
from ..errors import BadDataError, MicroserviceError, UnsupportedMediaType, shown
from .body import read_body
from .routes import JSON, Answer, Doc, Route

INVOKE = "/api/model/invoke"

TABLE = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "data": {"type": "array", "items": {"type": "array", "items": {}}},
    },
}
PREDICTION = {
    "type": "object",
    "properties": {
        "prediction": {"type": "array", "items": {}},
        "columns": {"type": "array", "items": {"type": "string"}},
    },
}


class OdahuRest(object):
    """ODAHU's two routes for one served model."""

    name = "odahu"
    prefix = "/api/model"
    docs_path = "/api/model/info"
    error_schema = "OdahuError"

    def __init__(self, ctx: Any, documents: Any) -> None:
        self.ctx = ctx
        self.documents = documents  # inference.documents.DocumentCalls
        self.info = jsonio.dumps(self._info_document())

    def error_answer(self, error: MicroserviceError) -> Answer:
        return error.status_code, jsonio.dumps({"message": error.message}), JSON

    def routes(self) -> List[Route]:
        return [
            Route("/api/model/info", ("GET",), self._info, self,
                  Doc("ODAHU: an OpenAPI document of the invoke call")),
            Route(INVOKE, ("POST",), self._invoke, self,
                  Doc("ODAHU: predict on a table of rows", request=TABLE, response=PREDICTION,
                      errors=((400, "Bad request data"), (415, "Unsupported content type"),
                              (500, "Model error"), (503, "Model not loaded")))),
        ]

    def _info(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, self.info, JSON

    def _invoke(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self.ctx.state.check()
        media = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if media and media != JSON and not media.endswith("+json"):
            raise UnsupportedMediaType("Content-Type %s is not supported: POST "
                                       '{"columns": [...], "data": [[...]]} as application/json'
                                       % shown(media))
        table = jsonio.loads(read_body(environ, self.ctx.limit))
        if not isinstance(table, dict) or not isinstance(table.get("data"), list):
            raise BadDataError('expected {"columns": [...], "data": [[...], ...]}')
        columns = table.get("columns") or []
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise BadDataError('"columns" must be a list of column names')
        for number, row in enumerate(table["data"], 1):
            if not isinstance(row, list):
                raise BadDataError("data row %d is not a list of values" % number)
            if columns and len(row) != len(columns):
                raise BadDataError("data row %d has %d values for %d columns"
                                   % (number, len(row), len(columns)))
        names, rows = self.documents.table(columns, table["data"])
        return 200, jsonio.dumps({"prediction": rows, "columns": names}), JSON

    def _info_document(self) -> Dict[str, Any]:
        settings = self.ctx.settings
        columns = [spec.name for spec in self.ctx.signature.inputs]
        request = dict(TABLE)
        if columns:
            request = dict(TABLE, example={"columns": columns, "data": [[0] * len(columns)]})
        return {
            "openapi": "3.0.3",
            "info": {"title": settings.model_name, "version": settings.v2_model_version or "1",
                     "description": "ODAHU's model API of a modelkiln microservice "
                                    "(SERVICE_TYPE %s)" % settings.service_type},
            "paths": {INVOKE: {"post": {
                "operationId": "invoke",
                "summary": "Predict on a table of rows",
                "requestBody": {"required": True,
                                "content": {JSON: {"schema": request}}},
                "responses": {
                    "200": {"description": "OK", "content": {JSON: {"schema": PREDICTION}}},
                    "400": {"description": "Bad request data"},
                    "500": {"description": "Model error"},
                },
            }}},
        }
