"""The differential case table: which model folders to serve and which requests to send.

A *deployment* is one catwalk model folder, served unchanged: catwalk's own
``example_models/`` (from its unpacked source, see servers.catwalk_source) or a folder in
``models/`` written for this suite. A *case* is one HTTP request sent identically to both
servers. Nothing here says what the answer must be: catwalk is the oracle (see
``intentional.py`` for the answers compared by status only).

How a case's body travels (``send``):

- ``json``: ``json.dumps(body)`` with ``Content-Type: application/json``;
- ``raw``: ``body`` (str or bytes) verbatim, with ``content_type`` if given (none otherwise);
- ``none``: no body and no Content-Type.
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional


@dataclass(frozen=True)
class Deployment:
    name: str
    folder: str             # relative to catwalk's source tree, or to models/ here
    source: str = "catwalk"  # "catwalk" (its example_models/) or "suite" (models/ here)


@dataclass(frozen=True)
class Case:
    id: str
    deployment: str
    path: str = "/predict"
    method: str = "POST"
    send: str = "json"
    body: Any = None
    content_type: Optional[str] = None   # only for send="raw"
    note: str = ""


DEPLOYMENTS: List[Deployment] = [
    Deployment("rng", "example_models/rng"),
    Deployment("batch", "example_models/batch"),
    Deployment("neuron", "example_models/neuron"),
    Deployment("dataframe", "example_models/dataframe"),
    Deployment("echo", "echo", source="suite"),
    Deployment("frame", "frame", source="suite"),
]

DEPLOYMENT_BY_NAME = {d.name: d for d in DEPLOYMENTS}

# Folders of catwalk's source that hold a model but are not served, and why.
LEFT_OUT: Dict[str, str] = {
    "tutorials/sklearn": (
        "model.pkl (a LinearRegression pickled by scikit-learn 0.22.2.post1) unpickles with the "
        "current scikit-learn but cannot predict: AttributeError 'LinearRegression' object has "
        "no attribute 'positive' (test_catwalk_compat.py checks that this still holds)"),
}

# --- payloads -------------------------------------------------------------------------

RNG_IN = {"seed": 0, "seed_version": 2, "mu": 0.0, "sigma": 1.0}
RNG_MODEL = {"name": "RNGModel", "version": "0.0.1"}
BATCH_IN = [{"seed": 0, "seed_version": 2, "mu": 0.0, "sigma": 1.0},
            {"seed": 1, "seed_version": 2, "mu": 0.0, "sigma": 1.0}]
NEURON_IN = {"inputs": [0.5, 0.5], "weights": [1.0, 0.5]}
ECHO_IN = {"text": "h\u00e9llo \u2603", "flag": True, "count": 3, "ratio": 0.25,
           "tags": ["a", "b"], "point": {"x": 1.5, "label": "p"}}
RNG_JSON = ('{"correlation_id": "raw", '
            '"input": {"seed": 0, "seed_version": 2, "mu": 0.0, "sigma": 1.0}}')


def with_input(base: dict, **changes: Any) -> dict:
    """``base`` with keys replaced (a value of ``...`` removes the key)."""
    out = dict(base)
    for key, value in changes.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def c(id: str, deployment: str, body: Any = None, **kw: Any) -> Case:
    return Case(id=id, deployment=deployment, body=body, **kw)


CASES: List[Case] = [
    # --- rng: valid requests ------------------------------------------------------------
    c("rng-input-only", "rng", {"input": RNG_IN},
      note="correlation_id generated (a UUID4), model filled in from model.yml"),
    c("rng-correlation-id", "rng", {"correlation_id": "1A", "input": RNG_IN}),
    c("rng-model", "rng", {"model": RNG_MODEL, "input": RNG_IN}),
    c("rng-model-and-correlation-id", "rng",
      {"correlation_id": "1A", "model": RNG_MODEL, "input": RNG_IN}),
    c("rng-extra-data", "rng",
      {"correlation_id": "1A", "extra_data": {"foo": "bar", "n": [1, 2.5, None, True, {"x": {}}]},
       "input": RNG_IN}),
    c("rng-extra-data-empty", "rng", {"extra_data": {}, "input": RNG_IN}),
    c("rng-all-keys", "rng",
      {"correlation_id": "abc-123", "model": RNG_MODEL, "extra_data": {"trace": ["a", "b"]},
       "input": {"seed": 1, "seed_version": 2, "mu": 0.5, "sigma": 2.0}}),
    c("rng-keys-reordered", "rng",
      {"input": RNG_IN, "extra_data": {"k": 1}, "model": RNG_MODEL, "correlation_id": "z"}),
    c("rng-integers-for-numbers", "rng",
      {"correlation_id": "ints", "input": {"seed": 3, "seed_version": 2, "mu": 0, "sigma": 2}},
      note="schema type number is Or(float, int): integers pass and stay integers"),
    c("rng-bool-for-integer", "rng",
      {"correlation_id": "bool", "input": with_input(RNG_IN, seed=True)},
      note="a bool is an int in Python, but the schema library refuses it for int"),
    c("rng-seed-version-1", "rng", {"input": with_input(RNG_IN, seed=7, seed_version=1)}),
    c("rng-big-seed", "rng",
      {"correlation_id": "big", "input": with_input(RNG_IN, seed=2 ** 70 + 1)}),
    c("rng-negative-sigma", "rng",
      {"correlation_id": "neg", "input": with_input(RNG_IN, sigma=-3.5)}),
    c("rng-nan-mu", "rng", {"correlation_id": "nan", "input": with_input(RNG_IN, mu=float("nan"))},
      note="catwalk's JSON parser takes NaN; the answer spells the NaN output as NaN"),
    c("rng-unicode-correlation-id", "rng",
      {"correlation_id": "\u00e9\u2603\U0001f600", "input": RNG_IN}),
    # --- rng: schema failures ---------------------------------------------------------------
    c("rng-err-seed-string", "rng",
      {"correlation_id": "1A", "input": with_input(RNG_IN, seed="zero")}),
    c("rng-err-seed-float", "rng", {"input": with_input(RNG_IN, seed=1.5)}),
    c("rng-err-seed-integral-float", "rng", {"input": with_input(RNG_IN, seed=1.0)},
      note="1.0 is a float in JSON and fails type integer"),
    c("rng-err-mu-string", "rng", {"input": with_input(RNG_IN, mu="0.0")}),
    c("rng-err-missing-input-key", "rng", {"input": with_input(RNG_IN, sigma=...)}),
    c("rng-err-missing-two-input-keys", "rng", {"input": with_input(RNG_IN, sigma=..., seed=...)}),
    c("rng-err-extra-input-key", "rng", {"input": with_input(RNG_IN, foo=1)}),
    c("rng-err-extra-and-wrong", "rng", {"input": with_input(RNG_IN, seed="x", foo=1)},
      note="two faults: which one the message names"),
    c("rng-err-missing-input", "rng", {"correlation_id": "1A"}),
    c("rng-err-empty-object", "rng", {}),
    c("rng-err-extra-top-key", "rng", {"input": RNG_IN, "foo": "bar"}),
    c("rng-err-output-key-sent", "rng", {"input": RNG_IN, "output": {"score": 1.0}}),
    c("rng-err-seed-null", "rng", {"input": with_input(RNG_IN, seed=None)}),
    c("rng-err-input-null", "rng", {"input": None}),
    c("rng-err-input-list", "rng", {"input": [RNG_IN]}),
    c("rng-err-input-string", "rng", {"input": "seed=0"}),
    c("rng-err-model-name-int", "rng", {"model": {"name": 1, "version": "0.0.1"}, "input": RNG_IN}),
    c("rng-err-model-missing-version", "rng", {"model": {"name": "RNGModel"}, "input": RNG_IN}),
    c("rng-err-model-extra-key", "rng",
      {"model": {"name": "RNGModel", "version": "0.0.1", "tag": "x"}, "input": RNG_IN}),
    c("rng-err-model-string", "rng", {"model": "RNGModel", "input": RNG_IN}),
    c("rng-err-model-null", "rng", {"model": None, "input": RNG_IN}),
    c("rng-err-model-name-empty", "rng",
      {"model": {"name": "", "version": "0.0.1"}, "input": RNG_IN}),
    c("rng-err-correlation-id-int", "rng", {"correlation_id": 1, "input": RNG_IN}),
    c("rng-err-correlation-id-empty", "rng", {"correlation_id": "", "input": RNG_IN}),
    c("rng-err-correlation-id-null", "rng", {"correlation_id": None, "input": RNG_IN}),
    c("rng-err-extra-data-list", "rng", {"extra_data": [1], "input": RNG_IN}),
    c("rng-err-extra-data-null", "rng", {"extra_data": None, "input": RNG_IN}),
    c("rng-err-body-list", "rng", [{"input": RNG_IN}]),
    c("rng-err-body-string", "rng", "input"),
    c("rng-err-body-null", "rng", None),
    c("rng-err-body-number", "rng", 42),
    # --- rng: bodies and Content-Types -----------------------------------------------------
    c("rng-err-not-json", "rng", "{bad json", send="raw", content_type="application/json"),
    c("rng-err-truncated-json", "rng", RNG_JSON[:-5], send="raw", content_type="application/json"),
    c("rng-err-empty-body", "rng", "", send="raw", content_type="application/json"),
    c("rng-err-non-utf8", "rng", RNG_JSON.replace("raw", "r\u00e9").encode("latin-1"), send="raw",
      content_type="application/json"),
    c("rng-err-no-body", "rng", send="none",
      note="no body and no Content-Type: the request is no JSON, validated as null"),
    c("rng-err-text-plain", "rng", RNG_JSON, send="raw", content_type="text/plain",
      note="valid JSON under another Content-Type is not read: validated as null"),
    c("rng-err-form-urlencoded", "rng", RNG_JSON, send="raw",
      content_type="application/x-www-form-urlencoded"),
    c("rng-err-json-without-content-type", "rng", RNG_JSON, send="raw"),
    c("rng-json-charset", "rng",
      RNG_JSON, send="raw", content_type="application/json; charset=utf-8"),
    c("rng-json-suffix-type", "rng", RNG_JSON, send="raw", content_type="application/vnd.api+json",
      note="application/*+json counts as JSON"),
    c("rng-json-whitespace", "rng", "\n  " + RNG_JSON + "\n\n", send="raw",
      content_type="application/json"),
    # --- rng: the model named in the request ----------------------------------------------------
    c("rng-model-name-mismatch", "rng",
      {"correlation_id": "1A", "model": {"name": "Other", "version": "0.0.1"}, "input": RNG_IN}),
    c("rng-model-version-mismatch", "rng",
      {"correlation_id": "1A", "model": {"name": "RNGModel", "version": "0.0.2"}, "input": RNG_IN}),
    c("rng-model-mismatch-generated-id", "rng",
      {"model": {"name": "Other", "version": "9"}, "extra_data": {"a": 1}, "input": RNG_IN}),
    c("rng-model-name-case", "rng",
      {"model": {"name": "rngmodel", "version": "0.0.1"}, "input": RNG_IN}),
    # --- rng: other endpoints --------------------------------------------------------------------
    c("rng-status", "rng", path="/status", method="GET", send="none"),
    c("rng-info", "rng", path="/info", method="GET", send="none"),
    c("rng-predict-get", "rng", method="GET", send="none"),
    c("rng-unknown-path", "rng", path="/no-such-path", method="GET", send="none"),
    c("rng-unknown-path-post", "rng", {"input": RNG_IN}, path="/predict/rng"),
    c("rng-status-post", "rng", path="/status", send="none"),
    c("rng-info-post", "rng", {"input": RNG_IN}, path="/info"),

    # --- batch: an array schema ---------------------------------------------------------------
    c("batch-two", "batch", {"correlation_id": "b", "input": BATCH_IN}),
    c("batch-one", "batch", {"input": BATCH_IN[:1]}),
    c("batch-empty-list", "batch", {"correlation_id": "empty", "input": []}),
    c("batch-extra-data", "batch", {"extra_data": {"batch": 7}, "input": BATCH_IN}),
    c("batch-err-object-input", "batch", {"input": BATCH_IN[0]}),
    c("batch-err-item-missing-key", "batch",
      {"input": [BATCH_IN[0], with_input(BATCH_IN[1], mu=...)]}),
    c("batch-err-item-wrong-type", "batch",
      {"input": [BATCH_IN[0], with_input(BATCH_IN[1], seed="1")]}),
    c("batch-err-item-null", "batch", {"input": [BATCH_IN[0], None]}),
    c("batch-model-mismatch", "batch",
      {"correlation_id": "b", "model": RNG_MODEL, "input": BATCH_IN}),
    c("batch-info", "batch", path="/info", method="GET", send="none"),

    # --- neuron: numpy inside --------------------------------------------------------------------
    c("neuron-two", "neuron", {"correlation_id": "n", "input": NEURON_IN}),
    c("neuron-one", "neuron", {"input": {"inputs": [0.5], "weights": [1.0]}}),
    c("neuron-integers", "neuron",
      {"correlation_id": "i", "input": {"inputs": [1, 2], "weights": [3, -1]}}),
    c("neuron-empty-arrays", "neuron",
      {"correlation_id": "e", "input": {"inputs": [], "weights": []}}),
    c("neuron-large", "neuron",
      {"correlation_id": "l", "input": {"inputs": [1000.0], "weights": [-1.0]}},
      note="np.exp overflows to inf (a RuntimeWarning): activation 0.0"),
    c("neuron-err-items-wrong-type", "neuron", {"input": {"inputs": ["a"], "weights": [1.0]}}),
    c("neuron-err-items-null", "neuron", {"input": {"inputs": [None], "weights": [1.0]}}),
    c("neuron-err-not-array", "neuron", {"input": {"inputs": 0.5, "weights": [1.0]}}),
    c("neuron-err-nested-array", "neuron", {"input": {"inputs": [[0.5]], "weights": [1.0]}}),
    c("neuron-length-mismatch", "neuron",
      {"correlation_id": "m", "input": {"inputs": [0.5], "weights": [1.0, 0.5]}},
      note="valid for the schema; numpy raises inside predict"),
    c("neuron-model-version-mismatch", "neuron",
      {"model": {"name": "Neuron", "version": "0.0.2"}, "input": NEURON_IN}),
    c("neuron-info", "neuron", path="/info", method="GET", send="none"),

    # --- dataframe: io_type PANDAS_DATA_FRAME, object schema -------------------------------------
    c("dataframe-dict", "dataframe", {"correlation_id": "d", "input": NEURON_IN},
      note="one record: the answer is one record"),
    c("dataframe-records", "dataframe",
      {"correlation_id": "r", "input": [NEURON_IN, {"inputs": [0.5], "weights": [1.0]}]},
      note="a list of records: the answer is a list of records"),
    c("dataframe-one-record-list", "dataframe", {"input": [NEURON_IN]}),
    c("dataframe-empty-arrays", "dataframe",
      {"correlation_id": "e", "input": {"inputs": [], "weights": []}}),
    c("dataframe-empty-list", "dataframe", {"correlation_id": "none", "input": []},
      note="an empty DataFrame reaches the model, whose apply() gives no column to name"),
    c("dataframe-all-keys", "dataframe",
      {"correlation_id": "a", "model": {"name": "Neuron (DataFrame)", "version": "0.0.1"},
       "extra_data": {"x": [1]}, "input": [NEURON_IN]}),
    c("dataframe-err-input-null", "dataframe", {"input": None}),
    c("dataframe-err-input-string", "dataframe", {"input": "x"}),
    c("dataframe-err-dict-missing-key", "dataframe", {"input": {"inputs": [0.5]}}),
    c("dataframe-err-record-missing-key", "dataframe", {"input": [NEURON_IN, {"inputs": [0.5]}]},
      note="the message ends with the failure of the last alternative (a dict), not the record's"),
    c("dataframe-err-record-wrong-type", "dataframe",
      {"input": [{"inputs": "a", "weights": [1.0]}]}),
    c("dataframe-model-name-mismatch", "dataframe",
      {"correlation_id": "d", "model": {"name": "Neuron", "version": "0.0.1"}, "input": NEURON_IN}),
    c("dataframe-info", "dataframe", path="/info", method="GET", send="none"),
    c("dataframe-status", "dataframe", path="/status", method="GET", send="none"),

    # --- echo: every schema type (models/echo) ---------------------------------------------------
    c("echo-all-types", "echo", {"correlation_id": "e", "input": ECHO_IN}),
    c("echo-nullable-null", "echo",
      {"input": with_input(ECHO_IN, ratio=None, point={"x": 0.0, "label": None})},
      note="nullable: true admits null"),
    c("echo-int-for-number", "echo", {"input": with_input(ECHO_IN, ratio=3)}),
    c("echo-bool-for-integer", "echo", {"input": with_input(ECHO_IN, count=False)}),
    c("echo-int32-overflow", "echo", {"input": with_input(ECHO_IN, count=2 ** 40)},
      note="format int32 is not enforced"),
    c("echo-empty-array", "echo", {"input": with_input(ECHO_IN, tags=[])}),
    c("echo-empty-string", "echo", {"input": with_input(ECHO_IN, text="")}),
    c("echo-err-string-null", "echo", {"input": with_input(ECHO_IN, text=None)},
      note="null where the property is not nullable"),
    c("echo-err-string-int", "echo", {"input": with_input(ECHO_IN, text=5)}),
    c("echo-err-int-for-boolean", "echo", {"input": with_input(ECHO_IN, flag=1)}),
    c("echo-err-string-for-boolean", "echo", {"input": with_input(ECHO_IN, flag="true")}),
    c("echo-err-nested-wrong-type", "echo",
      {"input": with_input(ECHO_IN, point={"x": "a", "label": "p"})}),
    c("echo-err-nested-missing-key", "echo", {"input": with_input(ECHO_IN, point={"label": "p"})}),
    c("echo-err-nested-extra-key", "echo",
      {"input": with_input(ECHO_IN, point={"x": 1, "label": "p", "y": 2})}),
    c("echo-err-nested-null", "echo", {"input": with_input(ECHO_IN, point=None)}),
    c("echo-err-nested-not-object", "echo", {"input": with_input(ECHO_IN, point=[1.0, "p"])}),
    c("echo-err-array-item-wrong-type", "echo", {"input": with_input(ECHO_IN, tags=["a", 1])}),
    c("echo-err-array-item-null", "echo", {"input": with_input(ECHO_IN, tags=[None])}),
    c("echo-err-array-not-array", "echo", {"input": with_input(ECHO_IN, tags="a")}),
    c("echo-err-array-object", "echo", {"input": with_input(ECHO_IN, tags={"a": "b"})}),
    c("echo-err-nullable-wrong-type", "echo", {"input": with_input(ECHO_IN, ratio="0.25")}),
    c("echo-info", "echo", path="/info", method="GET", send="none"),

    # --- frame: PANDAS_DATA_FRAME answering with more rows than it got (models/frame) ------------
    c("frame-dict", "frame", {"correlation_id": "f", "input": {"a": 1.5, "b": "x"}},
      note="one record in, two rows out: catwalk answers the last row"),
    c("frame-records", "frame", {"input": [{"a": 1.5, "b": "x"}, {"a": 2, "b": "y"}]}),
    c("frame-nullable-null", "frame", {"input": [{"a": None, "b": "x"}, {"a": 2.5, "b": "y"}]},
      note="a null in a number column becomes NaN in the DataFrame, and NaN in the answer"),
    c("frame-dict-null", "frame", {"input": {"a": None, "b": "x"}},
      note="a column holding only null stays null (object dtype), unlike frame-nullable-null"),
    c("frame-err-dict-wrong-type", "frame", {"input": {"a": "1", "b": "x"}}),
    c("frame-info", "frame", path="/info", method="GET", send="none"),
]


def cases_in_deployment_order() -> List[Case]:
    """CASES grouped by deployment (table order kept), so each server pair starts once."""
    order = {d.name: i for i, d in enumerate(DEPLOYMENTS)}
    return sorted(CASES, key=lambda case: order[case.deployment])
