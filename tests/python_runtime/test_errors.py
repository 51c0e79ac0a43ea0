"""Error messages stay small whatever the request holds (python_runtime/errors.py): they list
a few of the client's keys or names ("... and N more") and cut a long one short, yet still
say what is wrong. Each hostile request below once answered with everything it sent."""

import json

import pytest
from werkzeug.test import Client

from python_runtime.model.component import Component
from python_runtime.errors import clipped, few, shown
from python_runtime.transport.http import LoadState, create_app
from python_runtime.settings import Settings

MANY = 100000
LONG = "n" * (1 << 20)
MAX_ANSWER = 500  # bytes of a whole error answer
CUT = "'nnnnnnnnnnnnnnnnnnnnnnnnnnn...nnnnnnnnnnnnnnnnnnnnnnnnnnnn'"  # LONG, shown


def test_few_lists_five_then_says_how_many_more():
    assert few([]) == ""
    assert few(["a", "b"]) == "a, b"
    assert few(str(i) for i in range(MANY)) == "0, 1, 2, 3, 4 ... and 99995 more"
    assert few(["x", LONG], quote=True) == "'x', " + CUT
    assert len(few([LONG] * MANY)) < 400


def test_shown_and_clipped_cut_long_values():
    assert shown("short") == "'short'"
    assert shown(LONG) == CUT
    assert shown(list(range(MANY))) == "[0, 1, 2, 3, 4, ...]"
    assert clipped("x" * 1000) == "x" * 197 + "..."
    assert clipped(ValueError("fine")) == "fine"


class Echo(object):
    def predict(self, X, names, meta=None):
        return X

    def send_feedback(self, features, names, reward, truth, routing=None):
        return None


def client(env=None):
    settings = Settings.load(["Echo"], environ=dict(env or {}), read_annotations=False)
    state = LoadState()
    state.ready = True
    return Client(create_app(settings, Component(Echo(), "MODEL"), None, state))


DECLARED = json.dumps({"inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 2]}]})


def v2(*inputs, **extra):
    return dict({"inputs": list(inputs)}, **extra)


def fp(name, datatype="FP64", shape=(1,), data=(1.0,)):
    return {"name": name, "datatype": datatype, "shape": list(shape), "data": list(data)}


HOSTILE = [
    # id, path, body, the message (exact)
    ("seldon-100k-keys-no-payload", "/predict", {"k%d" % i: 1 for i in range(MANY)},
     "Invalid request data type: the message has none of data, jsonData, strData, binData "
     "(keys: k0, k1, k10, k100, k1000 ... and 99995 more)"),
    ("seldon-long-key-no-payload", "/predict", {LONG: 1},
     "Invalid request data type: the message has none of data, jsonData, strData, binData "
     "(keys: %s...)" % ("n" * 57)),
    ("seldon-data-100k-keys", "/predict", {"data": {"k%06d" % i: 1 for i in range(MANY)}},
     '"data" holds k000000, k000001, k000002, k000003, k000004 ... and 99995 more; expected '
     "one of ndarray, tensor, tftensor"),
    ("feedback-100k-fields", "/send-feedback", dict({"f%06d" % i: 1 for i in range(MANY)},
                                                    reward=1),
     "feedback has unknown field(s) f000000, f000001, f000002, f000003, f000004 ... and 99995 "
     "more; expected request, response, reward, truth"),
    ("tensor-100k-dimensions", "/predict",
     {"data": {"tensor": {"shape": [1] * MANY, "values": [1]}}},
     "data.tensor.shape has 100000 dimensions; numpy allows 32"),
    ("tftensor-long-value", "/predict",
     {"data": {"tftensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "1"}]},
                            "floatVal": [LONG]}}},
     "data.tftensor values cannot be read as DT_FLOAT: could not convert string to float: "
     "'%s..." % ("n" * 161)),
    ("tftensor-long-dtype", "/predict", {"data": {"tftensor": {"dtype": LONG}}},
     "data.tftensor.dtype %s is not supported (use one of DT_BOOL, DT_DOUBLE, DT_FLOAT, "
     "DT_HALF, DT_INT16, DT_INT32, DT_INT64, DT_INT8, DT_STRING, DT_UINT16, DT_UINT32, "
     "DT_UINT64, DT_UINT8)" % CUT),
    ("v2-100k-duplicate-names", "/v2/models/Echo/infer",
     v2(*[fp("i%06d" % (i // 2)) for i in range(MANY)]),
     "input names must be unique; given more than once: 'i000000', 'i000001', 'i000002', "
     "'i000003', 'i000004' ... and 49995 more"),
    ("v2-100k-inputs-not-columns", "/v2/models/Echo/infer",
     v2(*[fp("i%06d" % i, shape=(1, 1, 1)) for i in range(MANY)]),
     "several inputs reach predict(X, names) only as the columns of one table: each must "
     "have shape [N] or [N, 1] with the same N, got i000000 [1, 1, 1], i000001 [1, 1, 1], "
     "i000002 [1, 1, 1], i000003 [1, 1, 1], i000004 [1, 1, 1] ... and 99995 more; or "
     "define predict_v2_raw(request) to receive the inputs as they are"),
    ("v2-long-input-name", "/v2/models/Echo/infer", v2(fp(LONG, data=[1.0, 2.0])),
     "input %s: shape needs 1 values, data holds 2" % CUT),
    ("v2-long-datatype", "/v2/models/Echo/infer", v2(fp("x", datatype=LONG)),
     "input 'x': datatype %s is not one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, "
     "INT32, INT64, FP16, FP32, FP64, BYTES" % CUT),
    ("v2-long-output-name", "/v2/models/Echo/infer",
     v2(fp("x"), outputs=[{"name": LONG}]),
     "unknown output %s: this model answers 'output-0'" % CUT),
    ("v2-long-model-name", "/v2/models/%s/infer" % LONG, v2(fp("x")),
     "unknown model %s: this server serves 'Echo'" % CUT),
]


@pytest.mark.parametrize("path, body, message", [c[1:] for c in HOSTILE],
                         ids=[c[0] for c in HOSTILE])
def test_a_hostile_request_gets_a_small_error_that_names_the_problem(path, body, message):
    answer = client().post(path, data=json.dumps(body), content_type="application/json")
    raw = answer.get_data()
    assert answer.status_code in (400, 404), raw[:300]
    assert len(raw) < MAX_ANSWER, raw[:300]
    error = json.loads(raw)
    got = error["error"] if "error" in error else error["status"]["info"]
    assert got == message


@pytest.mark.parametrize("body, message", [
    (v2(fp("x", shape=(1, 2), data=(1.0, 2.0)), *[fp("y%06d" % i) for i in range(MANY)]),
     "unknown input 'y000000': this model declares x (FP64 [-1, 2])"),
    (v2(fp(LONG)), "missing input(s) 'x': this model declares x (FP64 [-1, 2])"),
    (v2(fp("x", shape=(1, 2), data=(1.0, 2.0)), fp(LONG)),
     "unknown input %s: this model declares x (FP64 [-1, 2])" % CUT),
])
def test_declared_inputs_name_the_stranger_briefly(body, message):
    answer = client({"MODEL_METADATA": DECLARED}).post(
        "/v2/models/Echo/infer", data=json.dumps(body), content_type="application/json")
    raw = answer.get_data()
    assert answer.status_code == 400 and len(raw) < MAX_ANSWER, raw[:300]
    assert json.loads(raw)["error"] == message
