"""An OpenAPI 3 document of the routes this server answers, built from the route records."""

from typing import Any, Dict, Optional, Sequence

from . import schemas
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


def _operation(route: Route, method: str, examples: Optional[Dict[str, Any]] = None
               ) -> Dict[str, Any]:
    doc = route.doc
    ok = {"description": "OK", "content": {
        media: {"schema": doc.response} if doc.response and media == JSON else {}
        for media in doc.response_types}}
    error = {"content": {JSON: {"schema": schemas.ref(route.protocol.error_schema)}}}
    op = {
        "operationId": "%s_%s" % (route.name, method.lower()),
        "tags": [route.protocol.name],  # the /docs page groups operations by protocol
        "summary": doc.summary,
        "responses": {"200": ok},
    }  # type: Dict[str, Any]
    for status, text in doc.errors:
        op["responses"][str(status)] = dict(error, description=text)
    if method == "POST" and doc.request is not None:
        op["requestBody"] = {"required": True, "content": {
            media: {"schema": _request_schema(media, route)} for media in doc.content_types}}
        if examples:
            op["requestBody"]["content"][JSON]["examples"] = {
                name: {"value": value} for name, value in examples.items()}
    elif method == "GET" and doc.query:
        op["parameters"] = list(doc.query)
    return op


def openapi_document(routes: Sequence[Route], settings: Any,
                     examples: Optional[Dict[str, Dict[str, Any]]] = None,
                     parameter_examples: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """The document; ``examples``: {path: {name: request body}} for the JSON request bodies,
    ``parameter_examples``: {path parameter: value} (what "Try it out" fills in)."""
    examples = examples or {}
    parameter_examples = parameter_examples or {}
    paths = {}  # type: Dict[str, Any]
    for route in routes:
        item = {m.lower(): _operation(route, m, examples.get(route.path))
                for m in route.documented}  # type: Dict[str, Any]
        if route.parameters:
            item["parameters"] = [dict({"name": name, "in": "path", "required": True,
                                        "schema": {"type": "string"}},
                                       **({"example": parameter_examples[name]}
                                          if name in parameter_examples else {}))
                                  for name in route.parameters]
        paths[route.path] = item
    components = dict(schemas.SELDON)
    components.update(schemas.V2)
    components.update(schemas.ODAHU)
    components.update(schemas.MODZY)
    components.update(schemas.OPENAI)
    return {
        "openapi": "3.0.3",
        "info": {"title": "modelkiln microservice: %s" % settings.model_name, "version": "1",
                 "description": "Seldon Core v1 REST, the Open Inference Protocol (V2) and "
                                "ODAHU's model API for one model (SERVICE_TYPE %s)"
                                % settings.service_type},
        # relative to this document: behind an ingress path prefix, "Try it out" on the
        # /docs page calls PREFIX/route, not /route
        "servers": [{"url": "."}],
        "paths": paths,
        "components": {"schemas": components},
    }
