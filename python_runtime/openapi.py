"""An OpenAPI 3 document of the routes this server answers, built from the route records."""

from typing import Any, Dict, Sequence

from .protocols import schemas
from .routes import JSON, Route

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_BINARY = "application/octet-stream"


def _request_schema(content_type: str, route: Route) -> Dict[str, Any]:
    if content_type == _FORM:
        return {"type": "object", "properties": {"json": {"type": "string"}}}
    if content_type == _MULTIPART:
        return {"type": "object"}
    if content_type == _BINARY:
        return {"type": "string", "format": "binary"}
    return route.doc.request or {}


def _operation(route: Route, method: str) -> Dict[str, Any]:
    doc = route.doc
    ok = {"description": "OK", "content": {
        media: {"schema": doc.response} if doc.response and media == JSON else {}
        for media in doc.response_types}}
    error = {"content": {JSON: {"schema": schemas.ref(route.protocol.error_schema)}}}
    op = {
        "operationId": "%s_%s" % (route.name, method.lower()),
        "summary": doc.summary,
        "responses": {"200": ok},
    }  # type: Dict[str, Any]
    for status, text in doc.errors:
        op["responses"][str(status)] = dict(error, description=text)
    if method == "POST" and doc.request is not None:
        op["requestBody"] = {"required": True, "content": {
            media: {"schema": _request_schema(media, route)} for media in doc.content_types}}
    elif method == "GET" and doc.query:
        op["parameters"] = list(doc.query)
    return op


def openapi_document(routes: Sequence[Route], settings: Any) -> Dict[str, Any]:
    paths = {}  # type: Dict[str, Any]
    for route in routes:
        item = {m.lower(): _operation(route, m) for m in route.documented}  # type: Dict[str, Any]
        if route.parameters:
            item["parameters"] = [{"name": name, "in": "path", "required": True,
                                   "schema": {"type": "string"}} for name in route.parameters]
        paths[route.path] = item
    components = dict(schemas.SELDON)
    components.update(schemas.V2)
    components.update(schemas.ODAHU)
    return {
        "openapi": "3.0.3",
        "info": {"title": "modelkiln microservice: %s" % settings.model_name, "version": "1",
                 "description": "Seldon Core v1 REST, the Open Inference Protocol (V2) and "
                                "ODAHU's model API for one model (SERVICE_TYPE %s)"
                                % settings.service_type},
        "paths": paths,
        "components": {"schemas": components},
    }
