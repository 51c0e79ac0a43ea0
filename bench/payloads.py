"""The request bodies (Seldon v1 and Open Inference Protocol V2, over REST and gRPC) and the
check that a server answered one sanely: 3 softmax outputs per row, matching the model's own
answer."""
import json
import math
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "model"))
from IrisSoftmax import IrisSoftmax  # noqa: E402

SMALL_ROW = [5.1, 3.5, 1.4, 0.2]
V1_PATH = "/api/v1.0/predictions"
V2_MODEL = "IrisSoftmax"  # the class name: modelkiln's default V2 name, and MLServer's model-settings name
V2_PATH = "/v2/models/%s/infer" % V2_MODEL
V2_INPUT = "input-0"
BINARY_EXTENSION = "binary_tensor_data"  # as V2 server metadata lists it
JSON_TYPE = "application/json"
BINARY_TYPE = "application/octet-stream"
# protocols (what a server speaks) and transports (what drives the load: wrk or bench/grpc_client.py)
V1, V2, V1_GRPC, V2_GRPC = "v1", "v2", "v1-grpc", "v2-grpc"
HTTP, GRPC = "http", "grpc"
SELDON_GRPC_METHOD = "/seldon.protos.Model/Predict"
V2_GRPC_METHOD = "/inference.GRPCInferenceService/ModelInfer"


def large_rows(n=1000):
    """n deterministic iris-like rows (one decimal, like the real data set)."""
    rows = []
    for i in range(n):
        rows.append(
            [
                round(4.3 + ((i * 7) % 36) / 10, 1),
                round(2.0 + ((i * 11) % 24) / 10, 1),
                round(1.0 + ((i * 13) % 59) / 10, 1),
                round(0.1 + ((i * 17) % 25) / 10, 1),
            ]
        )
    return rows


def make_body(rows, form):
    if form == "ndarray":
        doc = {"data": {"ndarray": rows}}
    else:
        doc = {
            "data": {
                "tensor": {
                    "shape": [len(rows), len(rows[0])],
                    "values": [v for row in rows for v in row],
                }
            }
        }
    return json.dumps(doc, separators=(",", ":"))


def make_v2_body(rows, binary):
    """(body, extra headers) of a V2 infer request: one FP64 input [N, 4], flat row-major data
    in JSON, or the binary tensor extension (JSON header, then the rows as little-endian FP64,
    binary output asked for)."""
    shape = [len(rows), len(rows[0])]
    flat = [v for row in rows for v in row]
    if not binary:
        doc = {"inputs": [{"name": V2_INPUT, "datatype": "FP64", "shape": shape, "data": flat}]}
        return json.dumps(doc, separators=(",", ":")).encode(), {"Content-Type": JSON_TYPE}
    raw = struct.pack("<%dd" % len(flat), *flat)
    doc = {
        "inputs": [{"name": V2_INPUT, "datatype": "FP64", "shape": shape,
                    "parameters": {"binary_data_size": len(raw)}}],
        "parameters": {"binary_data_output": True},
    }
    header = json.dumps(doc, separators=(",", ":")).encode()
    return header + raw, {"Content-Type": BINARY_TYPE, "Inference-Header-Content-Length": str(len(header))}


def _flatten(data):
    out, stack = [], [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


class Payload:
    """A Seldon v1 body, POSTed to /api/v1.0/predictions."""

    protocol = V1
    transport = HTTP
    extension = None  # a V2 extension the server must have, else the row is n/a

    def __init__(self, name, rows, form):
        self.name = name
        self.rows = rows
        self.form = form
        self.path = V1_PATH
        self.headers = {"Content-Type": JSON_TYPE}
        self.body = make_body(rows, form).encode()
        self.expected = IrisSoftmax().predict(rows).tolist()
        self.small = len(rows) == 1

    def check(self, status, raw, headers=None):
        """Return None if the answer is a 200 with 3 right softmax outputs per row, else why not."""
        if status != 200:
            return "HTTP %s: %s" % (status, raw[:200])
        try:
            data = json.loads(raw)["data"]
            if "ndarray" in data:
                got = data["ndarray"]
            elif "tensor" in data:
                shape, values = data["tensor"]["shape"], data["tensor"]["values"]
                if list(shape) != [len(self.rows), 3] or len(values) != 3 * len(self.rows):
                    return "tensor shape %s / %d values" % (shape, len(values))
                got = [values[i : i + 3] for i in range(0, len(values), 3)]
            else:
                return "no ndarray or tensor in %r" % raw[:200]
        except (ValueError, KeyError, TypeError) as e:
            return "unparsable answer (%s): %r" % (e, raw[:200])
        return self.compare(got)

    def compare(self, got):
        """None if got (a list of rows) is the model's answer for self.rows."""
        if len(got) != len(self.rows):
            return "%d rows back for %d sent" % (len(got), len(self.rows))
        for g, e in zip(got, self.expected):
            if len(g) != 3:
                return "row with %d outputs" % len(g)
            if abs(sum(g) - 1.0) > 1e-6:
                return "softmax row does not sum to 1: %s" % (g,)
            if any(not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) for a, b in zip(g, e)):
                return "wrong values: %s, expected %s" % (g, e)
        return None


class V2Payload(Payload):
    """A V2 infer request for IrisSoftmax: one FP64 [N, 4] input, JSON or binary."""

    protocol = V2

    def __init__(self, name, rows, binary):
        self.name = name
        self.rows = rows
        self.binary = binary
        self.form = "binary" if binary else "json"
        self.extension = BINARY_EXTENSION if binary else None
        self.path = V2_PATH
        self.body, self.headers = make_v2_body(rows, binary)
        self.expected = IrisSoftmax().predict(rows).tolist()
        self.small = len(rows) == 1

    def check(self, status, raw, headers=None):
        """None if the answer is a 200 with one [N, 3] output of right softmax rows (read from
        its JSON data, or from the binary part when binary output was asked for)."""
        if status != 200:
            return "HTTP %s: %s" % (status, raw[:200])
        n = len(self.rows)
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        try:
            rest = b""
            if self.binary:
                length = headers.get("inference-header-content-length")
                if length is None:
                    return "binary output asked for, but no Inference-Header-Content-Length in the answer"
                length = int(length)
                doc, rest = json.loads(raw[:length]), raw[length:]
            else:
                doc = json.loads(raw)
            outputs = doc["outputs"]
            if len(outputs) != 1:
                return "%d outputs, expected 1" % len(outputs)
            out = outputs[0]
            if list(out["shape"]) != [n, 3]:
                return "output shape %s, expected [%d, 3]" % (out["shape"], n)
            if self.binary:
                size = (out.get("parameters") or {}).get("binary_data_size")
                if "data" in out or size is None:
                    return "output not in binary (parameters %s)" % out.get("parameters")
                if out["datatype"] != "FP64" or size != n * 3 * 8 or len(rest) != size:
                    return ("binary output %s binary_data_size %s with %d bytes after the header, "
                            "expected FP64 and %d" % (out["datatype"], size, len(rest), n * 24))
                values = list(struct.unpack("<%dd" % (n * 3), rest))
            else:
                if rest or "data" not in out:
                    return "no JSON data in the output"
                values = _flatten(out["data"])
        except (ValueError, KeyError, TypeError, IndexError, struct.error) as e:
            return "unparsable answer (%s): %r" % (e, raw[:200])
        if len(values) != 3 * n:
            return "%d values for shape [%d, 3]" % (len(values), n)
        return self.compare([values[i : i + 3] for i in range(0, len(values), 3)])


class GrpcPayload(Payload):
    """A unary gRPC call, sent by bench/grpc_client.py: Seldon v1 `Model/Predict` with a
    SeldonMessage (`form` ndarray or tensor), or V2 `ModelInfer` with the rows as one FP64
    [N, 4] input in raw_input_contents (`form` raw). The client builds the message from
    spec() with its venv's generated stubs and sends back the rows of the answer, which
    compare() checks as for REST."""

    transport = GRPC

    def __init__(self, name, rows, form):
        self.name = name
        self.rows = rows
        self.form = form
        self.protocol = V2_GRPC if form == "raw" else V1_GRPC
        self.path = V2_GRPC_METHOD if form == "raw" else SELDON_GRPC_METHOD  # the full method
        self.headers = {}
        self.body = None
        self.expected = IrisSoftmax().predict(rows).tolist()
        self.small = len(rows) == 1

    def spec(self):
        """The client's SPEC_FILE document (bench/grpc_client.py)."""
        return {"kind": "v2" if self.form == "raw" else "seldon", "form": self.form,
                "rows": self.rows, "model": V2_MODEL, "input": V2_INPUT}

    def check(self, status, raw, headers=None):
        raise TypeError("gRPC payloads are checked from the rows the client parsed: compare()")


def all_payloads():
    big = large_rows()
    return [
        Payload("small-ndarray", [SMALL_ROW], "ndarray"),
        Payload("small-tensor", [SMALL_ROW], "tensor"),
        Payload("1000x4-ndarray", big, "ndarray"),
        Payload("1000x4-tensor", big, "tensor"),
        V2Payload("v2-small-json", [SMALL_ROW], binary=False),
        V2Payload("v2-1000x4-json", big, binary=False),
        V2Payload("v2-1000x4-binary", big, binary=True),
        GrpcPayload("grpc-small-ndarray", [SMALL_ROW], "ndarray"),
        GrpcPayload("grpc-small-tensor", [SMALL_ROW], "tensor"),
        GrpcPayload("grpc-1000x4-tensor", big, "tensor"),
        GrpcPayload("grpc-v2-small-raw", [SMALL_ROW], "raw"),
        GrpcPayload("grpc-v2-1000x4-raw", big, "raw"),
    ]
