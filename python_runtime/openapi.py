"""An OpenAPI 3 document of the routes this server actually answers."""

from typing import Any, Dict, Sequence, Tuple

_NUMBER_ARRAY = {"type": "array", "items": {}}
SELDON_MESSAGE = {
    "type": "object",
    "properties": {
        "data": {
            "type": "object",
            "properties": {
                "names": {"type": "array", "items": {"type": "string"}},
                "ndarray": _NUMBER_ARRAY,
                "tensor": {
                    "type": "object",
                    "required": ["shape", "values"],
                    "properties": {
                        "shape": {"type": "array", "items": {"type": "integer"}},
                        "values": {"type": "array", "items": {"type": "number"}},
                    },
                },
                "tftensor": {"type": "object"},
            },
        },
        "binData": {"type": "string", "format": "byte"},
        "strData": {"type": "string"},
        "jsonData": {},
        "meta": {
            "type": "object",
            "properties": {
                "puid": {"type": "string"},
                "tags": {"type": "object"},
                "routing": {"type": "object", "additionalProperties": {"type": "integer"}},
                "requestPath": {"type": "object", "additionalProperties": {"type": "string"}},
                "metrics": {"type": "array", "items": {"type": "object"}},
            },
        },
    },
}
FEEDBACK = {
    "type": "object",
    "properties": {
        "request": {"$ref": "#/components/schemas/SeldonMessage"},
        "response": {"$ref": "#/components/schemas/SeldonMessage"},
        "truth": {"$ref": "#/components/schemas/SeldonMessage"},
        "reward": {"type": "number"},
    },
}
MESSAGE_LIST = {
    "oneOf": [
        {"type": "array", "items": {"$ref": "#/components/schemas/SeldonMessage"}},
        {"type": "object", "properties": {"seldonMessages": {
            "type": "array", "items": {"$ref": "#/components/schemas/SeldonMessage"}}}},
    ]
}
ERROR = {
    "type": "object",
    "properties": {"status": {"type": "object", "properties": {
        "status": {"type": "integer"}, "info": {"type": "string"},
        "code": {"type": "integer"}, "reason": {"type": "string"}}}},
}
BODIES = {
    "predict": "SeldonMessage", "transform_input": "SeldonMessage",
    "transform_output": "SeldonMessage", "route": "SeldonMessage",
    "aggregate": "SeldonMessageList", "send_feedback": "Feedback",
}
SUMMARIES = {
    "predict": "Prediction from the model", "transform_input": "Transform the input",
    "transform_output": "Transform the output", "route": "Choose a child branch",
    "aggregate": "Combine several messages", "send_feedback": "Send feedback",
    "ping": "Liveness of the HTTP server", "health_status": "Health from the model",
    "metadata": "Model metadata", "openapi": "This document",
    "live": "Kubernetes liveness", "ready": "Kubernetes readiness (503 until load() finished)",
}


def _ref(name: str) -> Dict[str, Any]:
    return {"$ref": "#/components/schemas/%s" % name}


def _operation(name: str, method: str) -> Dict[str, Any]:
    error = {"content": {"application/json": {"schema": _ref("Error")}}}
    op = {
        "operationId": "%s_%s" % (name, method.lower()),
        "summary": SUMMARIES[name],
        "responses": {"200": {"description": "OK", "content": {"application/json": {}}}},
    }  # type: Dict[str, Any]
    body = BODIES.get(name)
    if body:
        op["responses"]["200"]["content"]["application/json"]["schema"] = _ref("SeldonMessage")
        for code, text in (("400", "Bad request data"), ("413", "Body too large"),
                           ("415", "Unsupported content type"), ("500", "Model error"),
                           ("501", "Method not implemented by the model"),
                           ("503", "Model not loaded")):
            op["responses"][code] = dict(error, description=text)
        if method == "POST":
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _ref(body)},
                "application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "properties": {"json": {"type": "string"}}}},
                "multipart/form-data": {"schema": {"type": "object"}},
            }}
        else:
            op["parameters"] = [{"name": "json", "in": "query", "required": True,
                                 "schema": {"type": "string"},
                                 "description": "The %s as JSON text" % body}]
    elif name in ("health_status", "ready", "metadata"):
        op["responses"]["503" if name != "metadata" else "500"] = dict(
            error, description="Not available")
    return op


def openapi_document(routes: Sequence[Tuple[str, Tuple[str, ...], str]], settings: Any
                     ) -> Dict[str, Any]:
    paths = {}  # type: Dict[str, Any]
    for path, methods, name in routes:
        paths[path] = {m.lower(): _operation(name, m) for m in methods}
    return {
        "openapi": "3.0.3",
        "info": {"title": "modelkiln microservice: %s" % settings.model_name,
                 "version": "1", "description": "Seldon Core v1 compatible REST API "
                 "(SERVICE_TYPE %s)" % settings.service_type},
        "paths": paths,
        "components": {"schemas": {"SeldonMessage": SELDON_MESSAGE, "Feedback": FEEDBACK,
                                   "SeldonMessageList": MESSAGE_LIST, "Error": ERROR}},
    }
