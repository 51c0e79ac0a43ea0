"""Triton Python-backend folders (model/formats/triton.py, triton_config.py, inference/triton.py,
protocols/triton.py and the stand-in triton_python_backend_utils): recognition, names and
versions, config.pbtxt and its errors, the completed configuration and V2 metadata, Triton's
input checks and messages, the stand-in's API, and a live server. The answers are compared
with tritonserver's own in tests/compat_triton."""

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from python_runtime.errors import BadDataError, LoadError
from python_runtime.inference.triton import TritonCalls
from python_runtime.model import formats
from python_runtime.model.formats import triton
from python_runtime.model.formats.triton_config import (ConfigError, as_json, complete,
                                                         parse, v2_tensors)
from python_runtime.settings import Settings, SettingsError

from .live import LiveServer

COMPAT_MODELS = Path(__file__).resolve().parents[1] / "compat_triton" / "models"

CONFIG = '''
name: "double"
backend: "python"
max_batch_size: 4
input [ { name: "X" data_type: TYPE_FP32 dims: [ 2 ] },
        { name: "S" data_type: TYPE_STRING dims: [ 1 ] optional: true } ]
output [ { name: "Y" data_type: TYPE_FP32 dims: [ 2 ] } ]
dynamic_batching { max_queue_delay_microseconds: 100 }
'''
MODEL = '''
import json
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.args = args
        self.config = json.loads(args["model_config"])

    def execute(self, requests):
        out = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "X").as_numpy()
            if (x < 0).any():
                out.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError("negative input")))
                continue
            out.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("Y", x * 2)]))
        return out
'''


def resolved(folder, env=None):
    settings = Settings.load([str(folder)], environ=env or {}, read_annotations=False)
    return formats.resolve(settings)[0]


def model_folder(root: Path, config: str = CONFIG, model: str = MODEL, version: str = "1"
                 ) -> Path:
    (root / version).mkdir(parents=True)
    (root / "config.pbtxt").write_text(config)
    (root / version / "model.py").write_text(model)
    return root


@pytest.fixture
def loaded(tmp_path):
    """A constructed and initialised TritonModel of the folder ``double``."""
    folder = model_folder(tmp_path / "double")
    settings = resolved(folder)
    cls, kwargs = triton.user_class(settings)
    model = cls(**kwargs)
    model.load()
    yield model
    sys.modules.pop("model", None)


# -- recognition, names, versions --------------------------------------------------------------

def test_a_model_folder_is_recognised_and_its_highest_version_served(tmp_path):
    folder = model_folder(tmp_path / "m", version="1")
    (folder / "3").mkdir()
    (folder / "3" / "model.py").write_text(MODEL)
    (folder / "2").mkdir()  # no model.py: not a version
    layout = triton.find_layout(str(folder))
    assert layout.kind == "model" and layout.version == "3"
    assert [m.NAME for m in formats.recognised(str(folder))] == ["triton"]


def test_a_repository_of_one_model_is_recognised_of_two_is_not(tmp_path):
    model_folder(tmp_path / "repo" / "one")
    layout = triton.find_layout(str(tmp_path / "repo"))
    assert layout.kind == "repository" and layout.model_dir.endswith("one")
    model_folder(tmp_path / "repo" / "two")
    assert not triton.recognises(str(tmp_path / "repo"))


def test_odahu_packager_layout(tmp_path):
    (tmp_path / "config.pbtxt").write_text('backend: "python"')
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "odahuflow.model.yaml").write_text("name: wine\nversion: 7\n")
    (tmp_path / "conda.yaml").write_text("dependencies: [python=3.11]\n")
    layout = triton.layout_of(str(tmp_path))
    assert layout.kind == "odahu"
    assert triton.identity(layout) == ("wine", "7")
    assert triton.conda_file(str(tmp_path)) == "conda.yaml"
    (tmp_path / "odahuflow.model.yaml").unlink()
    assert triton.identity(layout) == ("model", "1")  # ODAHU's defaults


@pytest.mark.parametrize("config, expected", [
    ('name: "named"', "named"),
    ('backend: "python"', "folder-name"),
])
def test_the_name_is_the_configs_else_the_folders(tmp_path, config, expected):
    folder = model_folder(tmp_path / "folder-name", config=config)
    settings = resolved(folder)
    assert (settings.model_name, settings.v2_model_name, settings.v2_model_version) == (
        expected, expected, "1")
    assert (settings.http_port, settings.grpc_port) == (8000, 8001)  # Triton's


def test_a_folder_without_the_files_is_not_triton(tmp_path):
    (tmp_path / "config.pbtxt").write_text("")
    assert not triton.recognises(str(tmp_path))
    with pytest.raises(SettingsError, match="config.pbtxt"):
        resolved(tmp_path, {"MODELKILN_MODEL_FORMAT": "triton"})


# -- config.pbtxt ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ('name: "x"\nmax_batch: 3\n', ['2:1', 'no field named "max_batch"', "config.pbtxt"]),
    ('input [ { name: "X" data_type: TYPE_FLOAT32 dims: [ 1 ] } ]',
     ["TYPE_FLOAT32", "config.pbtxt"]),
    ('max_batch_size: "four"', ["max_batch_size", "config.pbtxt"]),
    ('name: "x"\ninput { name: "X" dims: [ 1 ] wrong: 1 }', ['"wrong"']),
])
def test_config_errors_name_the_field_and_the_file(text, words):
    with pytest.raises(ConfigError) as caught:
        parse(text, "models/x/config.pbtxt")
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize("extra, words", [
    ('backend: "onnxruntime"', ["onnxruntime", "Python backend only"]),
    ('sequence_batching { }', ["sequence_batching"]),
])
def test_what_cannot_be_served_stops_the_start(tmp_path, extra, words):
    folder = model_folder(tmp_path / "m", config='name: "m"\n' + extra)
    settings = resolved(folder)
    with pytest.raises(LoadError) as caught:
        triton.user_class(settings)
    for word in words:
        assert word in str(caught.value)
    sys.modules.pop("model", None)


def test_completed_configuration_and_metadata():
    config = complete(parse(CONFIG, "config.pbtxt"), "double")
    printed = as_json(config)
    assert list(printed)[:6] == ["name", "platform", "backend", "runtime", "version_policy",
                                 "max_batch_size"]
    assert printed["instance_group"] == [{
        "name": "double", "kind": "KIND_CPU", "count": 1, "gpus": [], "secondary_devices": [],
        "profile": [], "passive": False, "host_policy": ""}]
    assert printed["dynamic_batching"]["preferred_batch_size"] == [4]
    assert printed["dynamic_batching"]["max_queue_delay_microseconds"] == 100  # a number
    assert printed["input"][0]["dims"] == [2]
    assert printed["default_model_filename"] == "model.py"
    assert v2_tensors(config) == {
        "inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 2]},
                   {"name": "S", "datatype": "BYTES", "shape": [-1, 1]}],
        "outputs": [{"name": "Y", "datatype": "FP32", "shape": [-1, 2]}]}
    unbatched = complete(parse('input [ { name: "X" data_type: TYPE_INT8 dims: [ -1, 3 ] } ]',
                               "c"), "n")
    assert v2_tensors(unbatched)["inputs"][0]["shape"] == [-1, 3]
    assert as_json(unbatched)["instance_group"][0]["name"] == "n"


def test_the_compat_models_configuration_is_tritons():
    """What tritonserver 2.51 answered on /config for tests/compat_triton/models/scale."""
    config = complete(parse((COMPAT_MODELS / "scale" / "config.pbtxt").read_text(), "c"),
                      "scale")
    printed = json.dumps(as_json(config), separators=(",", ":"))
    assert printed.startswith(
        '{"name":"scale","platform":"","backend":"python","runtime":"","version_policy":'
        '{"latest":{"num_versions":1}},"max_batch_size":8,"input":[{"name":"INPUT0",'
        '"data_type":"TYPE_FP32","format":"FORMAT_NONE","dims":[4],"is_shape_tensor":false,')
    assert printed.endswith(
        '"instance_group":[{"name":"scale_0","kind":"KIND_CPU","count":1,"gpus":[],'
        '"secondary_devices":[],"profile":[],"passive":false,"host_policy":""}],'
        '"default_model_filename":"model.py","cc_model_filenames":{},"metric_tags":{},'
        '"parameters":{"offset":{"string_value":"0.5"}},"model_warmup":[]}')


# -- the component: initialize's args, execute, Triton's checks ------------------------------------

def test_initialize_gets_tritons_args(loaded):
    args = loaded.model.args
    assert json.loads(args["model_config"]) == loaded.config_json
    assert {k: v for k, v in args.items() if k != "model_config"} == {
        "model_instance_kind": "CPU", "model_instance_name": "double_0",
        "model_instance_device_id": "0", "model_repository": loaded.layout.model_dir,
        "model_version": "1", "model_name": "double"}


def test_execute_requests_answers_each_request(loaded):
    requests = [loaded.make_request([("X", np.array([[1, 2]], np.float32))], "a"),
                loaded.make_request([("X", np.array([[-1, 2]], np.float32))], "b")]
    responses = loaded.execute_requests(requests)
    assert loaded.response_outputs(responses[0])[0][1].tolist() == [[2, 4]]
    with pytest.raises(BadDataError.__mro__[1]) as caught:
        loaded.response_outputs(responses[1])
    assert (caught.value.status_code, caught.value.message) == (500, "negative input")


def body(*inputs, **extra):
    request = {"inputs": [{"name": n, "datatype": d, "shape": s, "data": v}
                          for n, d, s, v in inputs]}
    request.update(extra)
    return request


X1 = ("X", "FP32", [1, 2], [1, 2])


@pytest.mark.parametrize("request_body, message", [
    (body(("Z", "FP32", [1, 2], [1, 2])), "unexpected inference input 'Z' for model 'double'"),
    (body(X1, X1), "[request id: <id_unknown>] input 'X' already exists in request"),
    (body(id="r1"), "[request id: r1] expected number of inputs between 1 and 2 but got 0 "
                    "inputs for model 'double'. Got input(s) [], but missing required "
                    "input(s) ['X']. Please provide all required input(s)."),
    (body(("X", "FP32", [5, 2], [0] * 10)),
     "[request id: <id_unknown>] inference request batch-size must be <= 4 for 'double'"),
    (body(("X", "FP64", [1, 2], [1, 2])), "[request id: <id_unknown>] inference input 'X' "
                                          "data-type is 'FP64', but model 'double' expects "
                                          "'FP32'"),
    (body(("X", "FP32", [1, 3], [1, 2, 3])), "[request id: <id_unknown>] unexpected shape for "
                                             "input 'X' for model 'double'. Expected [-1,2], "
                                             "got [1,3]. NOTE: Setting a non-zero"),
    (body(X1, ("S", "BYTES", [2, 1], ["a", "b"])),
     "[request id: <id_unknown>] input 'X' batch size does not match other inputs for "
     "'double'"),
    (body(X1, outputs=[{"name": "Q"}]), "unexpected inference output 'Q' for model 'double'"),
    (body(("X", "FP99", [1, 2], [1, 2])), "invalid datatype for input X"),
])
def test_tritons_checks_and_messages(loaded, request_body, message):
    with pytest.raises(BadDataError) as caught:
        TritonCalls(loaded).infer(request_body, None)
    assert caught.value.message.startswith(message)


def test_answer_in_json_and_binary(loaded):
    calls = TritonCalls(loaded)
    response, chunks = calls.infer(body(X1, id="q"), None)
    assert response == {"id": "q", "model_name": "double", "model_version": "1", "outputs": [
        {"name": "Y", "datatype": "FP32", "shape": [1, 2], "data": [2.0, 4.0]}]}
    assert chunks == []
    response, chunks = calls.infer(body(X1, parameters={"binary_data_output": True}), None)
    assert response["outputs"][0]["parameters"] == {"binary_data_size": 8}
    assert chunks == [np.array([2, 4], "<f4").tobytes()]


def test_execute_raising_is_tritons_500(tmp_path):
    folder = model_folder(tmp_path / "boom", config='name: "boom"\ninput [ { name: "X" '
                          'data_type: TYPE_INT32 dims: [ 1 ] } ]\noutput [ { name: "Y" '
                          'data_type: TYPE_INT32 dims: [ 1 ] } ]',
                          model="class TritonPythonModel:\n    def execute(self, requests):\n"
                                "        raise ValueError('no')\n")
    settings = resolved(folder)
    cls, kwargs = triton.user_class(settings)
    model = cls(**kwargs)
    with pytest.raises(triton.TritonModelError) as caught:
        TritonCalls(model).infer(body(("X", "INT32", [1], [1])), None)
    assert caught.value.message == (
        "Failed to process the request(s) for model 'boom_0', message: ValueError: no\n\n"
        "At:\n  %s(3): execute\n" % model.layout.model_path)
    sys.modules.pop("model", None)


DECOUPLED_CONFIG = (
    'name: "counts"\nbackend: "python"\nmodel_transaction_policy { decoupled: true }\n'
    'input [ { name: "N" data_type: TYPE_INT32 dims: [ 1 ] } ]\n'
    'output [ { name: "I" data_type: TYPE_INT32 dims: [ 1 ] } ]')
DECOUPLED_MODEL = """
import threading
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        for request in requests:
            n = int(pb_utils.get_input_tensor_by_name(request, "N").as_numpy()[0])
            sender = request.get_response_sender()
            if n < 0:
                self.watch(request, sender)
                continue
            threading.Thread(target=self.count, args=(sender, n)).start()

    def count(self, sender, n):
        for i in range(n):
            if i == 2:
                sender.send(pb_utils.InferenceResponse(error=pb_utils.TritonError("two")))
                continue
            sender.send(pb_utils.InferenceResponse([pb_utils.Tensor(
                "I", np.array([i], dtype=np.int32))]))
        sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        try:
            sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        except pb_utils.TritonModelException as exc:
            self.closed = exc.message()

    def watch(self, request, sender):
        def wait():
            while not request.is_cancelled():
                pass
            self.cancelled = sender.is_cancelled()
        self.watcher = threading.Thread(target=wait)
        self.watcher.start()
"""


@pytest.fixture
def decoupled(tmp_path):
    sys.modules.pop("model", None)
    folder = model_folder(tmp_path / "counts", config=DECOUPLED_CONFIG, model=DECOUPLED_MODEL)
    cls, kwargs = triton.user_class(resolved(folder))
    model = cls(**kwargs)
    yield model
    sys.modules.pop("model", None)


def test_a_decoupled_model_answers_through_its_sender_from_another_thread(decoupled):
    calls = TritonCalls(decoupled)
    answers = list(calls.infer_stream(body(("N", "INT32", [1], [4])), None))
    assert [a if isinstance(a, triton.TritonModelError) else a[0]["outputs"][0]["data"]
            for a in answers[:2] + answers[3:]] == [[0], [1], [3]]
    assert isinstance(answers[2], triton.TritonModelError) and answers[2].message == "two"
    assert decoupled.model.closed == "Unable to send response. Response sender has been closed."
    with pytest.raises(BadDataError, match="decoupled.*ModelStreamInfer"):
        calls.infer(body(("N", "INT32", [1], [1])), None)


def test_seldon_predict_takes_exactly_one_response_of_a_decoupled_model(decoupled):
    assert decoupled.predict(np.array([1])).tolist() == [0]
    with pytest.raises(BadDataError, match="sent 2 responses.*ModelStreamInfer"):
        decoupled.predict(np.array([2]))
    assert decoupled.batching() is None


def test_a_decoupled_request_whose_client_left_is_cancelled(decoupled):
    answers = TritonCalls(decoupled).infer_stream(body(("N", "INT32", [1], [-1])), None)
    answers.close()  # before any response: the model sees is_cancelled() and stops waiting
    decoupled.model.watcher.join(5)
    assert decoupled.model.cancelled is True


def test_a_model_that_is_not_decoupled_has_no_sender(pb):
    with pytest.raises(pb.TritonModelException, match="decoupled: true"):
        pb.InferenceRequest().get_response_sender()
    sender = pb.InferenceResponseSender(lambda response, final: None, lambda: False)
    with pytest.raises(pb.TritonModelException, match="must be provided"):
        sender.send()


def test_seldon_predict_reaches_the_one_required_input(loaded):
    assert loaded.predict(np.array([[1.0, 2.0]])).tolist() == [[2.0, 4.0]]
    with pytest.raises(BadDataError, match="unexpected shape"):
        loaded.predict(np.array([1.0, 2.0]))


def test_auto_complete_config_fills_the_configuration(tmp_path):
    sys.modules.pop("model", None)
    folder = tmp_path / "auto"
    (folder / "1").mkdir(parents=True)
    (folder / "config.pbtxt").write_text('backend: "python"')
    (folder / "1" / "model.py").write_text((COMPAT_MODELS / "auto" / "1" / "model.py").read_text())
    settings = resolved(folder)
    cls, kwargs = triton.user_class(settings)
    model = cls(**kwargs)
    assert model.max_batch_size == 16 and list(model.inputs) == ["A", "B"]
    assert model.config_json["dynamic_batching"]["preferred_batch_size"] == [16]
    sys.modules.pop("model", None)


# -- the stand-in triton_python_backend_utils --------------------------------------------------------

@pytest.fixture
def pb():
    return triton.pb_utils()


def test_the_stand_in_is_found_last_and_marked(pb):
    assert getattr(pb, "__modelkiln_fallback__", False)
    assert isinstance(sys.meta_path[-1], triton.UtilsFallback)


def test_stand_in_tensors_requests_and_responses(pb):
    tensor = pb.Tensor("T", np.array([b"a", b"bc"], dtype=object))
    assert tensor.name() == "T" and tensor.triton_dtype() == 13
    request = pb.InferenceRequest(inputs=[tensor], request_id="r", requested_output_names=["O"],
                                  parameters={"k": 1})
    assert pb.get_input_tensor_by_name(request, "T") is tensor
    assert pb.get_input_tensor_by_name(request, "nope") is None
    assert (request.request_id(), json.loads(request.parameters())) == ("r", {"k": 1})
    response = pb.InferenceResponse(output_tensors=[], error=pb.TritonError("bad"))
    assert response.has_error() and response.error().message() == "bad"
    with pytest.raises(pb.TritonModelException, match="must be a list"):
        pb.InferenceResponse(output_tensors=(tensor,))
    with pytest.raises(pb.TritonModelException, match="np.object_"):
        pb.Tensor("U", np.array(["text"]))
    assert pb.TritonModelException("m").message() == "m"


def test_stand_in_type_helpers(pb):
    assert pb.triton_string_to_numpy("TYPE_FP32") is np.float32
    assert pb.triton_string_to_numpy("TYPE_STRING") is np.object_
    assert pb.triton_to_numpy_type(9) is np.int64
    assert pb.numpy_to_triton_type(np.float16) == 10
    assert pb.numpy_to_triton_type(np.bytes_) == 13
    packed = pb.serialize_byte_tensor(np.array([b"ab", b""], dtype=object))
    assert bytes(packed) == b"\x02\x00\x00\x00ab\x00\x00\x00\x00"
    assert pb.deserialize_bytes_tensor(bytes(packed)).tolist() == [b"ab", b""]
    config = {"input": [{"name": "A", "data_type": "TYPE_FP32"}], "output": []}
    assert pb.get_input_config_by_name(config, "A")["data_type"] == "TYPE_FP32"
    assert pb.get_output_config_by_name(config, "A") is None


def test_stand_in_model_config(pb):
    config = pb.ModelConfig({"name": "m", "input": [
        {"name": "A", "data_type": "TYPE_FP32", "dims": [2]}]})
    config.add_input({"name": "A", "data_type": "TYPE_FP32", "dims": [2]})  # the same: fine
    config.add_output({"name": "B", "data_type": "TYPE_INT8", "dims": [1]})
    config.set_max_batch_size(8)
    config.set_dynamic_batching()
    assert config.as_dict()["max_batch_size"] == 8 and "dynamic_batching" in config.as_dict()
    with pytest.raises(ValueError, match="dims"):
        config.add_input({"name": "A", "data_type": "TYPE_FP32", "dims": [3]})
    with pytest.raises(ValueError, match="max_batch_size"):
        config.set_max_batch_size(4)


def test_a_real_module_wins(tmp_path, monkeypatch):
    (tmp_path / "triton_python_backend_utils.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "triton_python_backend_utils", raising=False)
    importlib.invalidate_caches()
    assert getattr(triton.pb_utils(), "REAL", False)
    sys.modules.pop("triton_python_backend_utils", None)


# -- live ---------------------------------------------------------------------------------------------

def test_live_rest_config_metadata_and_infer():
    with LiveServer(str(COMPAT_MODELS / "text")) as server:
        server.wait_ready()
        assert server.get("/v2/models/text/ready").status_code == 200
        config = server.get("/v2/models/text/config").json()
        assert config["dynamic_batching"]["preferred_batch_size"] == [4]
        assert server.get("/v2/models/text").json()["inputs"] == [
            {"name": "TEXT", "datatype": "BYTES", "shape": [-1, 1]}]
        answer = server.post("/v2/models/text/infer", json=body(
            ("TEXT", "BYTES", [2, 1], ["ab", "c"])))
        assert answer.json()["outputs"][0]["data"] == ["AB", "C"]
        failed = server.post("/v2/models/text/infer", json=body(
            ("TEXT", "BYTES", [1, 1], ["fail"])))
        assert (failed.status_code, failed.headers["Content-Type"], failed.json()) == (
            500, "text/plain", {"error": "cannot upper-case 'fail'"})
        # Seldon on a model with dynamic_batching: through the batcher to predict
        seldon = server.post("/api/v1.0/predictions", json={"data": {"ndarray": [["ab"]]}})
        assert seldon.json()["data"]["ndarray"] == [["AB"]]
    with LiveServer(str(COMPAT_MODELS / "scale")) as server:
        server.wait_ready()
        seldon = server.post("/api/v1.0/predictions", json={"data": {"ndarray": [[1, 2, 3, 4]]}})
        assert seldon.json()["data"]["ndarray"] == [[2.5, 4.5, 6.5, 8.5]]


def test_live_seldon_reaches_a_model_of_one_input():
    with LiveServer(str(COMPAT_MODELS / "nobatch")) as server:
        server.wait_ready()
        seldon = server.post("/api/v1.0/predictions", json={"data": {"ndarray": [[1, 2, 3]]}})
        assert seldon.json()["data"]["ndarray"] == [6]
        wrong = server.post("/api/v1.0/predictions", json={"data": {"ndarray": [1, 2, 3]}})
        assert wrong.status_code == 400
        assert "unexpected shape for input 'X'" in wrong.json()["status"]["info"]


def test_live_finalize_runs_when_the_worker_exits(tmp_path):
    marker = tmp_path / "finalized"
    model = MODEL + '''
    def finalize(self):
        with open(%r, "w") as handle:
            handle.write(self.args["model_instance_name"])
''' % str(marker)
    folder = model_folder(tmp_path / "double", model=model)
    server = LiveServer(str(folder)).start()
    try:
        server.wait_ready()
        assert not marker.exists()
    finally:
        server.stop()  # SIGTERM: the worker drains and exits
    assert marker.read_text() == "double_0"
