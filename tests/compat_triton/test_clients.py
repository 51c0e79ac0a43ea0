"""tritonclient, HTTP and gRPC, unchanged against both servers: readiness, metadata, the
configuration, inference (JSON and binary, BYTES, FP16) and its errors (status and message)."""

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

KINDS = ("http", "grpc")


def client(kind, server):
    if kind == "http":
        return httpclient.InferenceServerClient(server.url("")[len("http://"):])
    return grpcclient.InferenceServerClient(server.grpc_url)


def infer(kind, server, model, inputs, outputs=(), version="", binary=True):
    module = httpclient if kind == "http" else grpcclient
    given = []
    for name, array, datatype in inputs:
        item = module.InferInput(name, list(array.shape), datatype)
        if kind == "http":
            item.set_data_from_numpy(array, binary_data=binary)
        else:
            item.set_data_from_numpy(array)
        given.append(item)
    wanted = [module.InferRequestedOutput(name) for name in outputs] or None
    try:
        result = client(kind, server).infer(model, given, model_version=version, outputs=wanted)
    except InferenceServerException as exc:
        return ("error", exc.status(), exc.message())
    names = [o["name"] for o in result.get_response()["outputs"]] if kind == "http" else [
        o.name for o in result.get_response().outputs]
    return ("ok", [(name, result.as_numpy(name).dtype.str, result.as_numpy(name).tolist())
                   for name in names])


F = np.arange(12, dtype=np.float32).reshape(3, 4)
CALLS = [
    ("scale", [("INPUT0", F, "FP32")], ()),
    ("scale", [("INPUT0", F, "FP32"), ("FACTOR", np.full((3, 1), 0.5, np.float32), "FP32")],
     ("OUTPUT0",)),
    ("scale", [("INPUT0", np.ones((9, 4), np.float32), "FP32")], ()),
    ("scale", [("INPUT0", np.ones((1, 4), np.float16), "FP16")], ()),
    ("scale", [("NOPE", F, "FP32")], ()),
    ("scale", [("INPUT0", F, "FP32")], ("NOPE",)),
    ("text", [("TEXT", np.array([[b"abc"], [b"\xff\x00"], [b""]], dtype=object), "BYTES")], ()),
    ("text", [("TEXT", np.array([[b"fail"]], dtype=object), "BYTES")], ()),
    ("text", [("TEXT", np.array([[b"raise"]], dtype=object), "BYTES")], ()),
    ("auto", [("A", np.array([[1, 2]], np.int64), "INT64"),
              ("B", np.array([[3, 4]], np.int64), "INT64")], ("PRODUCT",)),
    ("nobatch", [("X", np.arange(6, dtype=np.int32).reshape(2, 3), "INT32")], ()),
    ("zzz", [("X", np.arange(3, dtype=np.int32).reshape(1, 3), "INT32")], ()),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("call", CALLS, ids=["%s-%d" % (c[0], i) for i, c in enumerate(CALLS)])
def test_infer(kind, call, triton, modelkiln):
    model, inputs, outputs = call
    server = modelkiln.get(model, modelkiln["scale"])
    assert infer(kind, server, model, inputs, outputs) == infer(kind, triton, model, inputs,
                                                                outputs)


@pytest.mark.parametrize("model", ("scale", "text"))
def test_infer_json_inputs_over_http(model, triton, modelkiln):
    inputs = ([("INPUT0", F, "FP32")] if model == "scale" else
              [("TEXT", np.array([[b"x"], [b"yz"]], dtype=object), "BYTES")])
    assert infer("http", modelkiln[model], model, inputs, binary=False) == infer(
        "http", triton, model, inputs, binary=False)


def both(kind, server, call):
    try:
        return ("ok", call(client(kind, server)))
    except InferenceServerException as exc:
        return ("error", exc.status(), exc.message())


def as_json(c):
    """gRPC answers messages: as_json makes them comparable dicts (HTTP gives dicts)."""
    return {"as_json": True} if isinstance(c, grpcclient.InferenceServerClient) else {}


QUERIES = [
    ("server-live", lambda c, m: c.is_server_live()),
    ("server-ready", lambda c, m: c.is_server_ready()),
    ("model-ready", lambda c, m: c.is_model_ready(m)),
    ("model-ready-unknown", lambda c, m: c.is_model_ready("zzz")),
    ("model-ready-version", lambda c, m: c.is_model_ready(m, "1")),
    ("model-ready-unknown-version", lambda c, m: c.is_model_ready(m, "7")),
    ("metadata", lambda c, m: c.get_model_metadata(m, **as_json(c))),
    ("metadata-unknown", lambda c, m: c.get_model_metadata("zzz")),
    ("config", lambda c, m: c.get_model_config(m, **as_json(c))),
    ("config-version", lambda c, m: c.get_model_config(m, "1", **as_json(c))),
    ("config-unknown-version", lambda c, m: c.get_model_config(m, "3")),
    ("config-unknown", lambda c, m: c.get_model_config("zzz")),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model", ("scale", "text", "auto", "nobatch"))
@pytest.mark.parametrize("query", QUERIES, ids=[q[0] for q in QUERIES])
def test_queries(kind, model, query, triton, modelkiln):
    call = query[1]
    assert both(kind, modelkiln[model], lambda c: call(c, model)) == both(
        kind, triton, lambda c: call(c, model))
