"""ODAHU's model REST API, beside the others on the REST port: ``GET /api/model/info`` (an
OpenAPI document of the invoke call, with the model's declared input columns) and ``POST
/api/model/invoke`` (``{"columns": [...], "data": [[...]]}`` in, ``{"prediction": [[...]],
"columns": [...]}`` out), served by the model's ``predict`` as one ``ndarray`` message.
Errors are ``{"message": "..."}``.
"""

import json
from typing import Any, Dict, List

from ..codecs import jsonio
from ..errors import BadDataError, InternalError, MicroserviceError, UnsupportedMediaType, shown
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


# -- a GPPI model folder: ODAHU's docker-rest image's own API ----------------------------------

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def swagger(name: str, version: str, input_schema: Any, output_schema: Any) -> Dict[str, Any]:
    """The Swagger 2.0 document ODAHU's docker-rest handler answers on /api/model/info, built
    from the entrypoint's ``info()``: the columns and one example row of each schema."""
    def columns_and_example(schema: Any) -> Any:
        return ([prop["name"] for prop in schema], [[prop["example"] for prop in schema]])

    in_columns, in_example = columns_and_example(input_schema)
    out_columns, out_example = columns_and_example(output_schema)

    def names(columns: Any) -> Dict[str, Any]:  # (keys in the order ODAHU's CLI prints them)
        return {"example": columns, "items": {"type": "string"}, "type": "array"}

    return {
        "swagger": "2.0",
        "info": {"description": "This is a EDI server.", "title": name, "version": version,
                 "termsOfService": "http://swagger.io/terms/", "contact": {},
                 "license": {"name": "Apache 2.0",
                             "url": "http://www.apache.org/licenses/LICENSE-2.0.html"}},
        "schemes": ["https"],
        "host": "",
        "basePath": "",
        "paths": {
            "/api/model/info": {"get": {
                "description": "Return a swagger info about model", "consumes": [],
                "produces": [JSON], "summary": "Info",
                "responses": {"200": {"description": "Info", "type": "object"}}}},
            INVOKE: {"post": {
                "description": "Execute prediction", "consumes": [JSON], "produces": [JSON],
                "summary": "Prediction",
                "parameters": [{"in": "body", "name": "PredictionParameters", "required": True,
                                "schema": {"type": "object", "properties": {
                                    "columns": names(in_columns),
                                    "data": {"items": {"items": {"type": "number"},
                                                       "type": "array"},
                                             "type": "array", "example": in_example}}}}],
                "responses": {"200": {"description": "Results of prediction",
                                      "name": "PredictionResponse",
                                      "properties": {
                                          "prediction": {"example": out_example,
                                                         "items": {"type": "number"},
                                                         "type": "array"},
                                          "columns": names(out_columns)}},
                              "type": "object"}}},
        },
    }


try:  # what ODAHU's handler parses and writes with; the py36 image has no orjson
    import orjson
except ImportError:  # pragma: no cover - the oldest-pins run
    orjson = None


def _numpy_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # arrays and NumPy scalars
        return value.tolist()
    raise TypeError("Type is not JSON serializable: %s" % type(value).__name__)


def parse_invoke(text: str) -> Any:
    return orjson.loads(text) if orjson is not None else json.loads(text)


def prediction_json(prediction: Any, columns: Any) -> bytes:
    """The invoke answer as ODAHU's handler writes it: orjson with NumPy arrays, an array of
    a dtype orjson cannot write as nested lists (the standard library, arrays as lists,
    without orjson); an InternalError for anything else that is not JSON."""
    if getattr(prediction, "dtype", None) is not None and str(prediction.dtype) == "float16":
        prediction = prediction.tolist()  # as the handler's orjson (3.4), which has no float16
    answer = {"prediction": prediction, "columns": columns}
    if orjson is None:
        try:
            return json.dumps(answer, default=_numpy_default, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            raise InternalError("the model's answer cannot be written as JSON: %s" % exc
                                ) from exc
    try:
        return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:
        failure = exc
    if hasattr(prediction, "tolist"):
        answer["prediction"] = prediction.tolist()
        try:
            return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError as exc:
            failure = exc
    raise InternalError("the model's answer cannot be written as JSON: %s" % failure
                        ) from failure


class GppiRest(object):
    """ODAHU's docker-rest API for a GPPI folder (``model.formats.gppi``), as its handler
    answers it (``tests/compat_gppi`` compares the two), except that a client's mistake (no
    body, not UTF-8, not JSON, no matrix) is a 400, not the handler's 500; the body is the
    handler's ``{"message": ...}``."""

    name = "odahu"
    prefix = "/api/model"
    docs_path = "/api/model/info"
    error_schema = "OdahuError"

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        model = ctx.component.obj
        self.headers = [("Model-Name", model.name), ("Model-Version", model.version)]

    @property
    def model(self) -> Any:
        return self.ctx.component.obj

    def error_answer(self, error: MicroserviceError) -> Answer:
        return error.status_code, jsonio.dumps({"message": error.message}), JSON

    def routes(self) -> List[Route]:
        return [
            Route("/api/model/info", ("GET",), self._info, self,
                  Doc("ODAHU: the Swagger 2.0 document of the model's API (from info())")),
            Route(INVOKE, ("POST",), self._invoke, self,
                  Doc("ODAHU: predict on a matrix (predict_on_matrix)", request=TABLE,
                      response=PREDICTION,
                      errors=((400, "No body, not UTF-8, not JSON, or no matrix"),
                              (500, "Model error"), (503, "Model not loaded")))),
            Route("/healthcheck", ("GET",), self._health, self, Doc("ODAHU: the health check")),
        ]

    def _health(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self.ctx.state.check()
        return 200, b'{"status":true}', JSON

    def _info(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        model = self.model
        input_schema, output_schema = self.ctx.call(model.schemas)
        return 200, jsonio.dumps(swagger(model.name, model.version, input_schema,
                                         output_schema)), JSON

    def _invoke(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        ctx = self.ctx
        ctx.state.check()
        body = read_body(environ, ctx.limit)
        media = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if not body or media in FORM_TYPES:  # Flask's request.data is empty for a form
            raise BadDataError("Please provide data with this POST request")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadDataError("Can not decode POST data using utf-8 charset: %s" % exc
                               ) from None
        try:
            parsed = parse_invoke(text)
        except ValueError as exc:
            raise BadDataError("Can not parse input as JSON: %s" % exc) from None
        prediction, columns = ctx.call(self.model.invoke, parsed)
        return 200, prediction_json(prediction, columns), JSON, self.headers
