"""One gRPC load client process (wrk cannot speak gRPC), started N times side by side by
bench/grpcload.py with the interpreter of the venv whose generated stubs it needs:
seldon-core's `seldon_core.proto.prediction_pb2` (Seldon v1, `.venv-seldon`) or tritonclient's
`tritonclient.grpc.service_pb2` (V2, `.venv-v2`). Both servers of a comparison are driven by the
same file with the same interpreter, so the client's cost is the same for both.

    <venv>/bin/python bench/grpc_client.py SPEC_FILE HOST:PORT DURATION_S [TIMEOUT_S]

SPEC_FILE (JSON, written by the harness): {"kind": "seldon" | "v2", "form": "ndarray" |
"tensor" | "raw", "rows": [[4 floats], ...], "model": "IrisSoftmax", "input": "input-0"}.

Protocol with the harness, one JSON line each on stdout:
1. the client opens its own channel, sends one request through the generated stub and parses
   the answer: `READY {"rows": [[3 floats], ...]}` (the harness compares them with the model's
   own answer), or `READY {"error": "..."}` and exit 1;
2. it waits for a line `GO` on stdin (all clients are released together);
3. it sends the same request (serialized once) as unary calls back to back, each waiting for
   its answer, for DURATION_S seconds; the answers are not parsed in the loop (as wrk does not
   parse bodies), only checked to be non-empty; the last one is parsed after the loop;
4. `RESULT {"requests", "errors", "codes", "elapsed_s", "hist", "cpu_s", "last_rows"}`:
   hist = latency histogram {bucket: count}, bucket = floor(100 * ln(latency in us)) (1%
   resolution; merged by the harness), cpu_s = this process's CPU time during the loop.

Only the standard library, grpcio and the stubs are needed (no numpy).
"""
import json
import math
import struct
import sys
import time

import grpc

SELDON_METHOD = "/seldon.protos.Model/Predict"
V2_METHOD = "/inference.GRPCInferenceService/ModelInfer"


def out(tag, doc):
    sys.stdout.write("%s %s\n" % (tag, json.dumps(doc, separators=(",", ":"))))
    sys.stdout.flush()


# ---- Seldon v1: seldon.protos.SeldonMessage -----------------------------------------------

def seldon_request(spec):
    from seldon_core.proto import prediction_pb2

    rows = spec["rows"]
    msg = prediction_pb2.SeldonMessage()
    if spec["form"] == "ndarray":
        for row in rows:
            msg.data.ndarray.values.add().list_value.values.extend(
                [_number_value(v) for v in row])
    elif spec["form"] == "tensor":
        msg.data.tensor.shape.extend([len(rows), len(rows[0])])
        msg.data.tensor.values.extend([v for row in rows for v in row])
    else:
        raise ValueError("Seldon form %r" % spec["form"])
    return msg, prediction_pb2.SeldonMessage.FromString


def _number_value(v):
    from google.protobuf import struct_pb2

    return struct_pb2.Value(number_value=v)


def seldon_rows(answer):
    """[[3 floats] per row] of a SeldonMessage answer (ndarray or tensor)."""
    which = answer.data.WhichOneof("data_oneof")
    if which == "tensor":
        shape, values = list(answer.data.tensor.shape), list(answer.data.tensor.values)
        if len(shape) != 2 or shape[1] != 3 or len(values) != shape[0] * 3:
            raise ValueError("tensor shape %s with %d values" % (shape, len(values)))
        return [values[i:i + 3] for i in range(0, len(values), 3)]
    if which == "ndarray":
        rows = []
        for row in answer.data.ndarray.values:
            if row.WhichOneof("kind") != "list_value":
                raise ValueError("ndarray row is not a list")
            rows.append([v.number_value for v in row.list_value.values])
        return rows
    status = answer.status
    raise ValueError("no tensor or ndarray in the answer (data: %s; status %s %s)"
                     % (which, status.code, status.info))


# ---- V2: inference.ModelInferRequest with raw_input_contents ------------------------------

def v2_request(spec):
    from tritonclient.grpc import service_pb2

    rows = spec["rows"]
    flat = [v for row in rows for v in row]
    req = service_pb2.ModelInferRequest(model_name=spec["model"])
    tensor = req.inputs.add(name=spec["input"], datatype="FP64", shape=[len(rows), len(rows[0])])
    del tensor  # its data goes in raw_input_contents (one entry per input, in order)
    req.raw_input_contents.append(struct.pack("<%dd" % len(flat), *flat))
    return req, service_pb2.ModelInferResponse.FromString


def v2_rows(answer):
    """[[3 floats] per row] of a ModelInferResponse: one FP64 [N, 3] output, raw or typed."""
    if len(answer.outputs) != 1:
        raise ValueError("%d outputs, expected 1" % len(answer.outputs))
    output = answer.outputs[0]
    shape = list(output.shape)
    if len(shape) != 2 or shape[1] != 3 or output.datatype != "FP64":
        raise ValueError("output %s %s, expected FP64 [N, 3]" % (output.datatype, shape))
    n = shape[0] * 3
    if len(answer.raw_output_contents):
        raw = answer.raw_output_contents[0]
        if len(raw) != 8 * n:
            raise ValueError("raw output of %d bytes for %d FP64 values" % (len(raw), n))
        values = list(struct.unpack("<%dd" % n, raw))
    else:
        values = list(output.contents.fp64_contents)
        if len(values) != n:
            raise ValueError("%d fp64_contents for shape %s" % (len(values), shape))
    return [values[i:i + 3] for i in range(0, len(values), 3)]


KINDS = {
    "seldon": (SELDON_METHOD, seldon_request, seldon_rows),
    "v2": (V2_METHOD, v2_request, v2_rows),
}


def main(argv):
    spec_file, target, duration = argv[0], argv[1], float(argv[2])
    timeout = float(argv[3]) if len(argv) > 3 else 10.0
    with open(spec_file) as f:
        spec = json.load(f)
    method, build, rows_of = KINDS[spec["kind"]]
    limit = 64 * 1024 * 1024
    channel = grpc.insecure_channel(target, options=[
        ("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)])
    # the check: through the generated classes (request message in, parsed answer out)
    try:
        request, parse = build(spec)
        checked = channel.unary_unary(method, request_serializer=type(request).SerializeToString,
                                      response_deserializer=parse)
        out("READY", {"rows": rows_of(checked(request, timeout=timeout))})
    except grpc.RpcError as e:
        out("READY", {"error": "gRPC %s: %s" % (e.code().name, e.details())})
        return 1
    except Exception as e:  # a malformed answer
        out("READY", {"error": "%s: %s" % (type(e).__name__, e)})
        return 1
    if sys.stdin.readline().strip() != "GO":
        return 1

    # the load: bytes in, bytes out (serialized once, not parsed per call)
    call = channel.unary_unary(method)
    body = request.SerializeToString()
    clock = time.perf_counter
    log = math.log
    hist = {}
    codes = {}
    requests = errors = 0
    last = None
    cpu0 = time.process_time()
    t0 = clock()
    end = t0 + duration
    now = t0
    while now < end:
        try:
            answer = call(body, timeout=timeout)
            if answer:
                requests += 1
                last = answer
            else:
                errors += 1
                codes["EMPTY"] = codes.get("EMPTY", 0) + 1
        except grpc.RpcError as e:
            errors += 1
            name = e.code().name
            codes[name] = codes.get(name, 0) + 1
        t = clock()
        b = int(100 * log(max(t - now, 1e-6) * 1e6))
        hist[b] = hist.get(b, 0) + 1
        now = t
    elapsed = now - t0
    cpu = time.process_time() - cpu0
    result = {"requests": requests, "errors": errors, "codes": codes, "elapsed_s": elapsed,
              "hist": hist, "cpu_s": cpu, "last_rows": None, "last_error": None}
    if last is not None:
        try:
            result["last_rows"] = rows_of(parse(last))
        except Exception as e:
            result["last_error"] = "%s: %s" % (type(e).__name__, e)
    out("RESULT", result)
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
