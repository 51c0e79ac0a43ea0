"""The same MLflow models through modelkiln's other protocols (Seldon v1, V2 REST), checked
against MLflow's own answer to the same data on its /invocations.

Only modelkiln serves these routes, so the oracle here is the predictions `mlflow models
serve` gives for the same rows. Skipped in the self-check (MODELKILN_MLFLOW_CANDIDATE=mlflow).
"""

import pytest
import requests

from tests.compat.servers import started_or_fail

from .cases import DEPLOYMENT_BY_NAME, IRIS, IRIS_ROWS
from .servers import candidate_kind

pytestmark = [pytest.mark.compat, pytest.mark.skipif(
    candidate_kind() == "mlflow", reason="modelkiln's own protocols: nothing to self-check")]

PARAMS_ROWS = [[1.5, 2, "hi"], [-0.25, 7, "there"]]


def urls(pool, name):
    return started_or_fail(pool.urls, DEPLOYMENT_BY_NAME[name])


def mlflow_predictions(url, body):
    r = requests.post(url + "/invocations", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["predictions"]


def test_seldon_ndarray_with_names(server_pool):
    oracle, cand = urls(server_pool, "sklearn-iris")
    expected = mlflow_predictions(oracle, {"dataframe_split": {"columns": IRIS,
                                                               "data": IRIS_ROWS}})
    r = requests.post(cand + "/api/v1.0/predictions", timeout=30,
                      json={"data": {"names": IRIS, "ndarray": IRIS_ROWS}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["ndarray"] == expected
    # without names: the signature's columns, as the width fits
    r = requests.post(cand + "/predict", json={"data": {"ndarray": IRIS_ROWS}}, timeout=30)
    assert r.json()["data"]["ndarray"] == expected


def test_seldon_json_data_is_a_scoring_request(server_pool):
    oracle, cand = urls(server_pool, "pyfunc-params")
    body = {"dataframe_split": {"columns": ["x", "n", "word"], "data": PARAMS_ROWS},
            "params": {"suffix": "!", "scale": 2.0}}
    expected = mlflow_predictions(oracle, body)
    r = requests.post(cand + "/predict", json={"jsonData": body}, timeout=30)
    assert r.status_code == 200, r.text
    got = r.json()["data"]
    assert got["names"] == ["y", "label"]
    assert got["ndarray"] == [[row["y"], row["label"]] for row in expected]


def test_seldon_mixed_ndarray_gets_the_signature_types(server_pool):
    oracle, cand = urls(server_pool, "pyfunc-params")
    expected = mlflow_predictions(oracle, {"dataframe_split": {"columns": ["x", "n", "word"],
                                                               "data": PARAMS_ROWS}})
    r = requests.post(cand + "/predict", timeout=30,
                      json={"data": {"names": ["x", "n", "word"], "ndarray": PARAMS_ROWS}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["ndarray"] == [[row["y"], row["label"]] for row in expected]


def test_seldon_refusal_is_mlflows_message(server_pool):
    _, cand = urls(server_pool, "sklearn-iris")
    r = requests.post(cand + "/predict", timeout=30,
                      json={"data": {"names": ["a"], "ndarray": [[1.0]]}})
    assert r.status_code == 400
    status = r.json()["status"]
    assert status["reason"] == "MICROSERVICE_BAD_DATA"
    assert "Model is missing inputs ['sepal_length'" in status["info"]


def test_v2_metadata_is_the_signature(server_pool):
    _, cand = urls(server_pool, "pyfunc-params")
    r = requests.get(cand + "/v2/models/mlflow-model", timeout=30)
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["platform"] == "mlflow"
    assert meta["inputs"] == [
        {"name": "x", "datatype": "FP64", "shape": [-1]},
        {"name": "n", "datatype": "INT64", "shape": [-1]},
        {"name": "word", "datatype": "BYTES", "shape": [-1]},
        {"name": "flag", "datatype": "BOOL", "shape": [-1]}]
    assert meta["outputs"] == [{"name": "y", "datatype": "FP64", "shape": [-1]},
                               {"name": "label", "datatype": "BYTES", "shape": [-1]}]
    _, tensor = urls(server_pool, "tensor")
    meta = requests.get(tensor + "/v2/models/mlflow-model", timeout=30).json()
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 3]}]
    assert meta["outputs"] == [{"name": "output-0", "datatype": "FP64", "shape": [-1]}]


def test_v2_one_input_per_column_and_params(server_pool):
    oracle, cand = urls(server_pool, "pyfunc-params")
    params = {"suffix": "!", "offset": 3}
    expected = mlflow_predictions(oracle, {"dataframe_split": {
        "columns": ["x", "n", "word"], "data": PARAMS_ROWS}, "params": params})
    r = requests.post(cand + "/v2/models/mlflow-model/infer", timeout=30, json={
        "inputs": [{"name": "x", "datatype": "FP64", "shape": [2, 1], "data": [1.5, -0.25]},
                   {"name": "n", "datatype": "INT64", "shape": [2], "data": [2, 7]},
                   {"name": "word", "datatype": "BYTES", "shape": [2], "data": ["hi", "there"]}],
        "parameters": params})
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    assert outputs["y"]["datatype"] == "FP64"
    assert outputs["y"]["data"] == [row["y"] for row in expected]
    assert outputs["label"]["datatype"] == "BYTES"
    assert outputs["label"]["data"] == [row["label"] for row in expected]


def test_v2_refusals(server_pool):
    _, cand = urls(server_pool, "pyfunc-params")
    r = requests.post(cand + "/v2/models/mlflow-model/infer", timeout=30, json={
        "inputs": [{"name": "x", "datatype": "FP64", "shape": [1], "data": [1.5]}]})
    assert r.status_code == 400
    assert "Model is missing inputs ['n', 'word']" in r.json()["error"]
    r = requests.post(cand + "/v2/models/mlflow-model/infer", timeout=30, json={
        "inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [1.5, 2]}]})
    assert r.status_code == 400
    assert "one V2 input per column" in r.json()["error"]


def test_v2_tensor_signature(server_pool):
    oracle, cand = urls(server_pool, "tensor")
    rows = [[1.0, 2.0, 3.0], [0.5, 0.25, 0.125]]
    expected = mlflow_predictions(oracle, {"inputs": rows})
    r = requests.post(cand + "/v2/models/mlflow-model/infer", timeout=30, json={
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [2, 3],
                    "data": [v for row in rows for v in row]}]})
    assert r.status_code == 200, r.text
    assert r.json()["outputs"] == [{"name": "output-0", "datatype": "FP64", "shape": [2],
                                    "data": expected}]


def test_sklearn_through_v2_matches_invocations(server_pool):
    oracle, cand = urls(server_pool, "sklearn-iris")
    expected = mlflow_predictions(oracle, {"dataframe_split": {"columns": IRIS,
                                                               "data": IRIS_ROWS}})
    inputs = [{"name": c, "datatype": "FP64", "shape": [len(IRIS_ROWS)],
               "data": [row[i] for row in IRIS_ROWS]} for i, c in enumerate(IRIS)]
    r = requests.post(cand + "/v2/models/mlflow-model/infer", json={"inputs": inputs},
                      timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == expected
