"""REST cases sent to tritonserver and to modelkiln: (name, model, method, path, body,
headers). ``body`` is a JSON value, or bytes sent as they are; ``binary(...)`` makes a body of
Triton's binary tensor extension."""

import json
import struct
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

Case = Tuple[str, str, str, str, Any, Dict[str, str]]
ROW = [1, 2, 3, 4]


def tensor(name: str, datatype: str, shape: List[int], data: Any) -> Dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def binary(inputs: List[Tuple[str, np.ndarray, str]], outputs: Optional[List[Any]] = None,
           request_id: str = "", parameters: Optional[Dict[str, Any]] = None
           ) -> Tuple[bytes, Dict[str, str]]:
    """A binary-extension body and its header: each input's bytes after the JSON."""
    header = {"inputs": []}  # type: Dict[str, Any]
    chunks = []
    for name, array, datatype in inputs:
        if datatype == "BYTES":
            raw = b"".join(struct.pack("<I", len(v)) + v for v in array.ravel())
        else:
            raw = np.ascontiguousarray(array).tobytes()
        header["inputs"].append({"name": name, "datatype": datatype, "shape": list(array.shape),
                                 "parameters": {"binary_data_size": len(raw)}})
        chunks.append(raw)
    if outputs is not None:
        header["outputs"] = outputs
    if request_id:
        header["id"] = request_id
    if parameters:
        header["parameters"] = parameters
    text = json.dumps(header).encode()
    return text + b"".join(chunks), {"Inference-Header-Content-Length": str(len(text))}


def infer(name: str, model: str, body: Any, path: str = "", headers: Any = None) -> Case:
    return (name, model, "POST", path or "/v2/models/%s/infer" % model, body, headers or {})


def get(name: str, path: str, model: str = "scale") -> Case:
    return (name, model, "GET", path, None, {})


F4 = np.arange(8, dtype=np.float32).reshape(2, 4)
TEXTS = np.array([[b"abc"], [b"h\xc3\xa9llo"], [b""]], dtype=object)
BIN_SCALE, BIN_SCALE_HEADERS = binary([("INPUT0", F4, "FP32")])
BIN_OUT, BIN_OUT_HEADERS = binary([("INPUT0", F4, "FP32")], request_id="b1",
                                  parameters={"binary_data_output": True})
BIN_TEXT, BIN_TEXT_HEADERS = binary([("TEXT", TEXTS, "BYTES")],
                                    outputs=[{"name": "UPPER",
                                              "parameters": {"binary_data": True}},
                                             {"name": "LENGTH"}])
BIN_WRONG, BIN_WRONG_HEADERS = binary([("INPUT0", np.zeros((1, 5), np.float32), "FP32")])

CASES = [
    # scale: FP32 rows, an optional input, a parameter and a data file
    infer("scale-json", "scale", {"id": "a", "inputs": [tensor("INPUT0", "FP32", [2, 4],
                                                               [ROW, ROW])]}),
    infer("scale-flat-data", "scale", {"inputs": [tensor("INPUT0", "FP32", [2, 4], ROW * 2)]}),
    infer("scale-optional-input-and-one-output", "scale", {
        "inputs": [tensor("INPUT0", "FP32", [1, 4], ROW), tensor("FACTOR", "FP32", [1, 1], [3])],
        "outputs": [{"name": "SUM"}]}),
    infer("scale-requested-outputs-order", "scale", {
        "inputs": [tensor("INPUT0", "FP32", [1, 4], ROW)],
        "outputs": [{"name": "SUM"}, {"name": "OUTPUT0"}]}),
    infer("scale-output-requested-twice", "scale", {
        "inputs": [tensor("INPUT0", "FP32", [1, 4], ROW)],
        "outputs": [{"name": "SUM"}, {"name": "SUM"}]}),
    infer("scale-binary-in", "scale", BIN_SCALE, headers=BIN_SCALE_HEADERS),
    infer("scale-binary-in-and-out", "scale", BIN_OUT, headers=BIN_OUT_HEADERS),
    infer("scale-binary-output-parameter", "scale", {
        "inputs": [tensor("INPUT0", "FP32", [1, 4], ROW)],
        "parameters": {"binary_data_output": True}}),
    infer("scale-versioned-path", "scale", {"inputs": [tensor("INPUT0", "FP32", [1, 4], ROW)]},
          path="/v2/models/scale/versions/1/infer"),
    infer("scale-max-batch", "scale", {"inputs": [tensor("INPUT0", "FP32", [8, 4], ROW * 8)]}),
    infer("scale-unknown-input", "scale", {"inputs": [tensor("NOPE", "FP32", [1, 4], ROW)]}),
    infer("scale-only-the-optional-input", "scale",
          {"id": "opt", "inputs": [tensor("FACTOR", "FP32", [1, 1], [3])]}),
    infer("scale-too-many-inputs", "scale", {"id": "x2", "inputs": [
        tensor("INPUT0", "FP32", [1, 4], ROW), tensor("FACTOR", "FP32", [1, 1], [1]),
        tensor("NOPE", "FP32", [1, 1], [1])]}),
    infer("scale-no-inputs", "scale", {"inputs": []}),
    infer("scale-batch-too-large", "scale",
          {"inputs": [tensor("INPUT0", "FP32", [9, 4], ROW * 9)]}),
    infer("scale-batch-too-large-with-id", "scale",
          {"id": "big", "inputs": [tensor("INPUT0", "FP32", [9, 4], ROW * 9)]}),
    infer("scale-wrong-shape", "scale", {"inputs": [tensor("INPUT0", "FP32", [2, 5], [0] * 10)]}),
    infer("scale-no-batch-dimension", "scale", {"inputs": [tensor("INPUT0", "FP32", [4], ROW)]}),
    infer("scale-wrong-datatype", "scale", {"inputs": [tensor("INPUT0", "FP64", [1, 4], ROW)]}),
    infer("scale-batch-sizes-differ", "scale", {"inputs": [
        tensor("INPUT0", "FP32", [1, 4], ROW), tensor("FACTOR", "FP32", [2, 1], [3, 3])]}),
    infer("scale-empty-batch", "scale", {"inputs": [tensor("INPUT0", "FP32", [0, 4], [])]}),
    infer("scale-unknown-output", "scale", {"inputs": [tensor("INPUT0", "FP32", [1, 4], ROW)],
                                            "outputs": [{"name": "NOPE"}]}),
    infer("scale-input-twice", "scale", {"inputs": [tensor("INPUT0", "FP32", [1, 4], ROW),
                                                    tensor("INPUT0", "FP32", [1, 4], ROW)]}),
    infer("scale-invalid-datatype", "scale", {"inputs": [tensor("INPUT0", "FP99", [1, 4], ROW)]}),
    infer("scale-no-data", "scale",
          {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4]}]}),
    infer("scale-binary-wrong-shape", "scale", BIN_WRONG, headers=BIN_WRONG_HEADERS),
    infer("scale-malformed-json", "scale", b"{not json"),
    infer("scale-data-count-mismatch", "scale",
          {"inputs": [tensor("INPUT0", "FP32", [1, 4], [1, 2, 3])]}),
    infer("scale-unknown-model", "other", {"inputs": []}, path="/v2/models/other/infer"),
    infer("scale-unknown-version", "scale", {"inputs": []},
          path="/v2/models/scale/versions/2/infer"),
    # text: BYTES in and out, an error response, execute raising
    infer("text-json", "text", {"inputs": [tensor("TEXT", "BYTES", [2, 1], ["abc", "héllo"])]}),
    infer("text-binary-bytes-out", "text", BIN_TEXT, headers=BIN_TEXT_HEADERS),
    infer("text-error-response", "text", {"inputs": [tensor("TEXT", "BYTES", [1, 1], ["fail"])]}),
    infer("text-error-response-in-a-batch", "text",
          {"inputs": [tensor("TEXT", "BYTES", [3, 1], ["a", "b", "fail"])]}),
    infer("text-execute-raises", "text",
          {"inputs": [tensor("TEXT", "BYTES", [1, 1], ["raise"])]}),
    infer("text-missing-input", "text", {"id": "x1", "inputs": []}),
    infer("text-request-parameters", "text", {"inputs": [
        tensor("TEXT", "BYTES", [1, 1], ["a"])], "parameters": {"p": 1, "q": "x"}}),
    # auto: completed by auto_complete_config
    infer("auto-int64", "auto", {"inputs": [tensor("A", "INT64", [2, 2], [1, 2, 3, 4]),
                                            tensor("B", "INT64", [2, 2], [5, 6, 7, 8])]}),
    infer("auto-wrong-shape", "auto", {"inputs": [tensor("A", "INT64", [1, 3], [1, 2, 3]),
                                                  tensor("B", "INT64", [1, 2], [5, 6])]}),
    # nobatch: max_batch_size 0, a variable dimension
    infer("nobatch-json", "nobatch", {"inputs": [tensor("X", "INT32", [2, 3], list(range(6)))]}),
    infer("nobatch-empty", "nobatch", {"inputs": [tensor("X", "INT32", [0, 3], [])]}),
    infer("nobatch-fraction-for-int32", "nobatch",
          {"inputs": [tensor("X", "INT32", [1, 3], [1.5, 2, 3])]}),
    infer("nobatch-wrong-rank", "nobatch", {"inputs": [tensor("X", "INT32", [3], [1, 2, 3])]}),
    # the other routes
    get("config", "/v2/models/scale/config"),
    get("config-versioned", "/v2/models/scale/versions/1/config"),
    get("config-text", "/v2/models/text/config", "text"),
    get("config-auto", "/v2/models/auto/config", "auto"),
    get("config-nobatch", "/v2/models/nobatch/config", "nobatch"),
    get("config-unknown-version", "/v2/models/scale/versions/3/config"),
    get("config-unknown-model", "/v2/models/zzz/config"),
    get("metadata", "/v2/models/scale"),
    get("metadata-versioned", "/v2/models/scale/versions/1"),
    get("metadata-text", "/v2/models/text", "text"),
    get("metadata-nobatch", "/v2/models/nobatch", "nobatch"),
    get("metadata-unknown-model", "/v2/models/zzz"),
    get("model-ready", "/v2/models/scale/ready"),
    get("model-ready-versioned", "/v2/models/scale/versions/1/ready"),
    get("model-ready-unknown", "/v2/models/zzz/ready"),
    get("model-ready-unknown-version", "/v2/models/scale/versions/2/ready"),
    get("server-ready", "/v2/health/ready"),
    get("server-live", "/v2/health/live"),
    get("server-metadata", "/v2"),
    get("unknown-path", "/v2/nothing"),
    get("infer-with-get", "/v2/models/scale/infer"),
]


# Streaming REST, run by test_stream.py: infer on the decoupled model `words`, and the generate
# extension (generate, generate_stream) on `words` and on the non-decoupled `text`.
def generate(name: str, model: str, body: Any, stream: bool = False, path: str = "") -> Case:
    route = "generate_stream" if stream else "generate"
    return (name, model, "POST", path or "/v2/models/%s/%s" % (model, route), body, {})


WORDS_TEXT = [tensor("TEXT", "BYTES", [1], ["a b"])]
BIN_WORDS, BIN_WORDS_HEADERS = binary([("TEXT", np.array([b"a b"], dtype=object), "BYTES")])
GENERATE_BODIES = [
    ("words", {"TEXT": "a b c"}),
    ("one-word", {"TEXT": "one"}),
    ("no-words", {"TEXT": ""}),
    ("fail", {"TEXT": "fail"}),
    ("fail-inside", {"TEXT": "a fail c"}),
    ("fail-first", {"TEXT": "fail c"}),
    ("raise", {"TEXT": "raise"}),
    ("later", {"TEXT": "later a b"}),
    ("list", {"TEXT": ["a b"]}),
    ("two-elements", {"TEXT": ["a", "b"]}),
    ("id-and-parameters", {"TEXT": "a", "id": "g1", "parameters": {"x": 1}}),
    ("other-key", {"TEXT": "a", "extra": 5}),
    ("unknown-input", {"NOPE": "a"}),
    ("no-input", {}),
]
# bodies Triton answers 500 (intentional.py: modelkiln 400), once per model and route
GENERATE_BAD_BODIES = [
    ("not-json", b"{not json"),
    ("empty-body", b""),
    ("not-an-object", [1]),
    ("number-for-bytes", {"TEXT": 5}),
    ("number-id", {"TEXT": "a", "id": 7}),
    ("parameters-not-an-object", {"TEXT": "a", "parameters": 3}),
]

STREAM_CASES = [
    # REST infer on a decoupled model: refused whatever the body
    infer("words-infer-decoupled", "words", {"inputs": WORDS_TEXT}),
    infer("words-infer-decoupled-versioned", "words", {"inputs": WORDS_TEXT},
          path="/v2/models/words/versions/1/infer"),
    infer("words-infer-decoupled-binary", "words", BIN_WORDS, headers=BIN_WORDS_HEADERS),
    infer("words-infer-decoupled-unknown-input", "words",
          {"inputs": [tensor("NOPE", "BYTES", [1], ["a"])]}),
    infer("words-infer-decoupled-not-json", "words", b"{not json"),
    infer("words-infer-unknown-version", "words", {"inputs": WORDS_TEXT},
          path="/v2/models/words/versions/2/infer"),
] + [
    generate("generate-%s%s-%s" % (model, "-stream" if stream else "", what), model, body, stream)
    for model in ("words", "text") for stream in (False, True) for what, body in GENERATE_BODIES
] + [
    generate("generate-%s%s-%s" % (model, "-stream" if stream else "", what), model, body, stream)
    for model, stream in (("words", True), ("text", False)) for what, body in GENERATE_BAD_BODIES
] + [
    generate("generate-words-versioned", "words", {"TEXT": "a"},
             path="/v2/models/words/versions/1/generate"),
    generate("generate-words-stream-versioned", "words", {"TEXT": "a b"},
             path="/v2/models/words/versions/1/generate_stream"),
    generate("generate-words-stream-unknown-version", "words", {"TEXT": "a b"},
             path="/v2/models/words/versions/2/generate_stream"),
    generate("generate-unknown-model", "zzz", {"TEXT": "a"}, path="/v2/models/zzz/generate"),
    generate("generate-stream-unknown-model", "zzz", {"TEXT": "a"},
             path="/v2/models/zzz/generate_stream"),
    ("generate-with-get", "words", "GET", "/v2/models/words/generate", None, {}),
    ("generate-stream-with-put", "words", "PUT", "/v2/models/words/generate_stream", {}, {}),
]
