"""The same MLflow model through modelkiln's gRPC services (V2's ModelInfer and Seldon's
Predict), checked against MLflow's own answer to the same rows on its /invocations."""

import time

import pytest
import requests

from python_runtime.protocols import protos as protos_module
from tests.compat.servers import started_or_fail

from .cases import DEPLOYMENT_BY_NAME
from .servers import candidate_kind, modelkiln_server

grpc = pytest.importorskip("grpc")  # in .venv-mlflow-skinny (requirements/test-mlflow-skinny.txt)
from google.protobuf import json_format  # noqa: E402

pytestmark = [pytest.mark.compat, pytest.mark.skipif(
    candidate_kind() == "mlflow", reason="modelkiln's own protocols: nothing to self-check")]

PROTOS = protos_module.load()
ModelInferRequest = PROTOS.message("inference.ModelInferRequest")
ModelInferResponse = PROTOS.message("inference.ModelInferResponse")
SeldonMessage = PROTOS.message("seldon.protos.SeldonMessage")
INFER = "/inference.GRPCInferenceService/ModelInfer"
PREDICT = "/seldon.protos.Model/Predict"
ROWS = {"x": [1.5, -0.25], "n": [2, 7], "word": ["hi", "there"]}
PARAMS = {"suffix": "!", "offset": 3}


@pytest.fixture(scope="module")
def grpc_server(models_dir, tmp_path_factory):
    server = modelkiln_server(models_dir / "pyfunc-params", "modelkiln-grpc",
                              tmp_path_factory.mktemp("grpc-logs"), grpc_on=True)
    server.start()
    try:
        server.wait_ready(time.monotonic() + 60)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def expected(server_pool):
    oracle, _ = started_or_fail(server_pool.urls, DEPLOYMENT_BY_NAME["pyfunc-params"])
    r = requests.post(oracle + "/invocations", timeout=30, json={
        "dataframe_split": {"columns": list(ROWS), "data": [list(r) for r in zip(*ROWS.values())]},
        "params": PARAMS})
    assert r.status_code == 200, r.text
    return r.json()["predictions"]


def unary(port, method, request, response_class):
    with grpc.insecure_channel("127.0.0.1:%d" % port) as chan:
        stub = chan.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=response_class.FromString)
        return stub(request, timeout=30)


def test_v2_model_infer_one_input_per_column(grpc_server, expected):
    request = ModelInferRequest(model_name="mlflow-model")
    for name, kind, field in (("x", "FP64", "fp64_contents"), ("n", "INT64", "int64_contents"),
                              ("word", "BYTES", "bytes_contents")):
        tensor = request.inputs.add(name=name, datatype=kind, shape=[2])
        values = [v.encode() for v in ROWS[name]] if kind == "BYTES" else ROWS[name]
        getattr(tensor.contents, field).extend(values)
    request.parameters["suffix"].string_param = PARAMS["suffix"]
    request.parameters["offset"].int64_param = PARAMS["offset"]
    answer = unary(grpc_server.grpc_port, INFER, request, ModelInferResponse)
    outputs = {o.name: o for o in answer.outputs}
    assert list(outputs["y"].contents.fp64_contents) == [row["y"] for row in expected]
    assert [v.decode() for v in outputs["label"].contents.bytes_contents] == [
        row["label"] for row in expected]


def test_seldon_predict_json_data(grpc_server, expected):
    """jsonData is a protobuf Value, whose numbers are all doubles: MLflow's enforcement
    casts a long column's 2.0 back, but refuses 3.0 for a long param (as it would in JSON),
    so the params here are the string one and a double param's default."""
    body = {"dataframe_split": {"columns": list(ROWS),
                                "data": [list(r) for r in zip(*ROWS.values())]},
            "params": {"suffix": PARAMS["suffix"]}}
    expected = [dict(row, y=row["y"] - PARAMS["offset"]) for row in expected]
    request = json_format.ParseDict({"jsonData": body}, SeldonMessage())
    answer = json_format.MessageToDict(unary(grpc_server.grpc_port, PREDICT, request,
                                             SeldonMessage))
    assert answer["data"]["names"] == ["y", "label"]
    assert answer["data"]["ndarray"] == [[row["y"], row["label"]] for row in expected]
