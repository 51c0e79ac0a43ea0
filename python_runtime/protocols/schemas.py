"""JSON schemas of the bodies the protocols read and write, for the OpenAPI document."""

from typing import Any, Dict

V2_DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                "FP16", "FP32", "FP64", "BYTES"]


def ref(name: str) -> Dict[str, Any]:
    return {"$ref": "#/components/schemas/%s" % name}


_ANY_ARRAY = {"type": "array", "items": {}}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_INTEGERS = {"type": "array", "items": {"type": "integer"}}
_PARAMETERS = {"type": "object", "additionalProperties": True}

SELDON = {
    "SeldonMessage": {
        "type": "object",
        "properties": {
            "data": {
                "type": "object",
                "properties": {
                    "names": _STRINGS,
                    "ndarray": _ANY_ARRAY,
                    "tensor": {
                        "type": "object",
                        "required": ["shape"],
                        "properties": {
                            "shape": _INTEGERS,
                            # Required in requests; left out of answers when empty (feedback
                            # answers keep Seldon's protobuf form).
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
                    "requestPath": {"type": "object",
                                    "additionalProperties": {"type": "string"}},
                    "metrics": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
    "Feedback": {
        "type": "object",
        "properties": {
            "request": ref("SeldonMessage"),
            "response": ref("SeldonMessage"),
            "truth": ref("SeldonMessage"),
            "reward": {"type": "number"},
        },
    },
    "SeldonMessageList": {
        "oneOf": [
            {"type": "array", "items": ref("SeldonMessage")},
            {"type": "object", "properties": {
                "seldonMessages": {"type": "array", "items": ref("SeldonMessage")}}},
        ]
    },
    "SeldonError": {
        "type": "object",
        "properties": {"status": {"type": "object", "properties": {
            "status": {"type": "integer"}, "info": {"type": "string"},
            "code": {"type": "integer"}, "reason": {"type": "string"}}}},
    },
}

_TENSOR_DATA = {"oneOf": [_ANY_ARRAY, {"type": "number"}, {"type": "string"},
                          {"type": "boolean"}]}

V2 = {
    "V2ServerMetadata": {
        "type": "object",
        "required": ["name", "version", "extensions"],
        "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                       "extensions": _STRINGS},
    },
    "V2TensorMetadata": {
        "type": "object",
        "required": ["name", "datatype", "shape"],
        "properties": {"name": {"type": "string"},
                       "datatype": {"type": "string", "enum": V2_DATATYPES},
                       "shape": _INTEGERS},
    },
    "V2ModelMetadata": {
        "type": "object",
        "required": ["name", "platform", "inputs", "outputs"],
        "properties": {"name": {"type": "string"}, "versions": _STRINGS,
                       "platform": {"type": "string"},
                       "inputs": {"type": "array", "items": ref("V2TensorMetadata")},
                       "outputs": {"type": "array", "items": ref("V2TensorMetadata")}},
    },
    "V2RequestInput": {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {"name": {"type": "string"}, "shape": _INTEGERS,
                       "datatype": {"type": "string", "enum": V2_DATATYPES},
                       "parameters": _PARAMETERS, "data": _TENSOR_DATA},
    },
    "V2RequestOutput": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "parameters": _PARAMETERS},
    },
    "V2InferenceRequest": {
        "type": "object",
        "required": ["inputs"],
        "properties": {"id": {"type": "string"}, "parameters": _PARAMETERS,
                       "inputs": {"type": "array", "items": ref("V2RequestInput")},
                       "outputs": {"type": "array", "items": ref("V2RequestOutput")}},
    },
    "V2ResponseOutput": {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {"name": {"type": "string"}, "shape": _INTEGERS,
                       "datatype": {"type": "string", "enum": V2_DATATYPES},
                       "parameters": _PARAMETERS, "data": _TENSOR_DATA},
    },
    "V2InferenceResponse": {
        "type": "object",
        "required": ["model_name", "outputs"],
        "properties": {"model_name": {"type": "string"}, "model_version": {"type": "string"},
                       "id": {"type": "string"}, "parameters": _PARAMETERS,
                       "outputs": {"type": "array", "items": ref("V2ResponseOutput")}},
    },
    "V2Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
}

# ODAHU's model API (/api/model/*)
ODAHU = {
    "OdahuError": {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    },
}

# Modzy's container API (/status, /run, /shutdown): every answer
MODZY = {
    "ModzyAnswer": {
        "type": "object",
        "required": ["statusCode", "status", "message"],
        "properties": {"statusCode": {"type": "integer"}, "status": {"type": "string"},
                       "message": {"type": "string"}},
    },
}

_MESSAGES = {"type": "array", "items": {
    "type": "object", "required": ["role"],
    "properties": {"role": {"type": "string"}, "content": {}}}}
OPENAI = {
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["message", "type"],
                                 "properties": {"message": {"type": "string"},
                                                "type": {"type": "string"},
                                                "param": {}, "code": {}}}},
    },
    "OpenAIChatRequest": {
        "type": "object",
        "required": ["messages"],
        "properties": {"model": {"type": "string"}, "messages": _MESSAGES,
                       "stream": {"type": "boolean"}},
        "additionalProperties": True,
    },
    "OpenAICompletionRequest": {
        "type": "object",
        "required": ["prompt"],
        "properties": {"model": {"type": "string"}, "prompt": {},
                       "stream": {"type": "boolean"}},
        "additionalProperties": True,
    },
    "OpenAIEmbeddingRequest": {
        "type": "object",
        "required": ["input"],
        "properties": {"model": {"type": "string"}, "input": {},
                       "encoding_format": {"type": "string", "enum": ["float", "base64"]}},
        "additionalProperties": True,
    },
}
