"""MLflow's scoring protocol, for an MLflow model folder (``model.formats.mlflow``), answered as
``mlflow models serve`` answers it (``tests/compat_mlflow`` compares the two):

- ``POST /invocations``: the body and its Content-Type go to MLflow's own
  ``scoring_server.invocations`` (through ``MlflowModel.invocations``): JSON with exactly one
  of ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` (and ``params``),
  or ``text/csv``; ``{"predictions": ...}`` back. MLflow's errors are its own JSON bodies
  (``{"error_code", "message", ...}``) with their status; an unsupported Content-Type or
  charset is its ``text/plain`` 415;
- ``GET /ping``, ``GET /health``: ``\\n`` as ``application/json`` once the model is loaded;
- ``GET /version``: the version of mlflow serving the model, as ``application/json``.

A path no protocol serves is FastAPI's ``{"detail":"Not Found"}`` (and ``Method Not
Allowed``), as MLflow's server answers; other refusals (not ready, too large) use MLflow's
error body. Seldon's, V2's and ODAHU's routes stay on the same port.
"""

import logging
from typing import Any, Dict, List

from ..codecs import jsonio
from ..errors import MethodNotAllowed, MicroserviceError, RouteNotFound
from .body import read_body
from .routes import JSON, Answer, Doc, Route

log = logging.getLogger("modelkiln")

PING = b"\n"
# MLflow's error codes (its databricks_pb2 names) for the statuses modelkiln itself answers
ERROR_CODES = {400: "BAD_REQUEST", 404: "ENDPOINT_NOT_FOUND", 413: "RESOURCE_LIMIT_EXCEEDED",
               415: "BAD_REQUEST", 500: "INTERNAL_ERROR", 503: "TEMPORARILY_UNAVAILABLE"}
REQUEST = {
    "type": "object",
    "description": "exactly one of dataframe_split, dataframe_records, instances, inputs; "
                   "params (when the signature has params)",
    "properties": {
        "dataframe_split": {"type": "object", "properties": {
            "columns": {"type": "array"}, "index": {"type": "array"},
            "data": {"type": "array"}}},
        "dataframe_records": {"type": "array", "items": {"type": "object"}},
        "instances": {},
        "inputs": {},
        "params": {"type": "object"},
    },
}
ANSWER = {"type": "object", "properties": {"predictions": {}}}


def media_type(mimetype: str) -> str:
    """The Content-Type header for an answer's media type, as Starlette writes it (MLflow's
    server): ``; charset=utf-8`` added to a ``text/`` type."""
    if mimetype.startswith("text/") and "charset" not in mimetype:
        return mimetype + "; charset=utf-8"
    return mimetype


class MlflowRest(object):
    """MLflow's scoring routes for the served MLflow model."""

    name = "mlflow"
    prefix = None
    docs_path = "/openapi.json"
    error_schema = "MlflowError"
    overrides = ()  # none of its paths is another protocol's

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    @property
    def model(self) -> Any:
        return self.ctx.component.obj

    def error_answer(self, error: MicroserviceError) -> Answer:
        if isinstance(error, RouteNotFound):
            return 404, b'{"detail":"Not Found"}', JSON
        if isinstance(error, MethodNotAllowed):
            return 405, b'{"detail":"Method Not Allowed"}', JSON
        code = ERROR_CODES.get(error.status_code, "INTERNAL_ERROR")
        return error.status_code, jsonio.dumps({"error_code": code, "message": error.message}
                                               ), JSON

    def routes(self) -> List[Route]:
        return [
            Route("/invocations", ("POST",), self._invocations, self,
                  Doc("MLflow: score a DataFrame (JSON or CSV) with the model", request=REQUEST,
                      response=ANSWER, content_types=(JSON, "text/csv"),
                      errors=((400, "Not a scoring request MLflow can parse, or data the "
                                    "signature refuses (MLflow's error body)"),
                              (415, "A Content-Type other than JSON, CSV or Parquet"),
                              (500, "Model error")))),
            Route("/ping", ("GET",), self._ping, self, Doc("MLflow: the health check")),
            Route("/health", ("GET",), self._ping, self, Doc("MLflow: the health check")),
            Route("/version", ("GET",), self._version, self,
                  Doc("MLflow: the version of mlflow serving the model")),
        ]

    def _ping(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        self.ctx.state.check()
        return 200, PING, JSON

    def _version(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        return 200, self.model.version.encode("utf-8"), JSON

    def _invocations(self, environ: Dict[str, Any], params: Dict[str, str]) -> Answer:
        ctx = self.ctx
        ctx.state.check()
        body = read_body(environ, ctx.limit)
        # without a Content-Type MLflow's server fails with a bare 500; MLflow's own
        # "only supports the following content types" 415 says what to send instead
        content_type = environ.get("CONTENT_TYPE") or ""
        try:
            status, answer, mimetype = ctx.call(self.model.invocations, body, content_type)
        except Exception:  # not an MlflowException: MLflow's server answers a bare 500
            log.exception("/invocations failed")
            return 500, b"Internal Server Error", media_type("text/plain")
        return status, answer, media_type(mimetype)
