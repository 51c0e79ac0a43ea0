"""The differential case table: which GPPI folders to serve and which requests to send.

A *deployment* is one GPPI folder (``odahuflow.project.yaml`` and its work dir), served
unchanged: ODAHU's own examples (from its unpacked source, see servers.odahu_source) or a
folder in ``models/`` written for this suite. A *case* is one HTTP request sent identically to
both servers. Nothing here says what the answer must be: ODAHU's handler is the oracle (see
``intentional.py`` for the answers modelkiln gives otherwise on purpose).

How a case's body travels (``send``):

- ``json``: ``json.dumps(body)`` with ``Content-Type: application/json``;
- ``raw``: ``body`` (str or bytes) verbatim, with ``content_type`` if given (none otherwise);
- ``none``: no body and no Content-Type.
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

INVOKE = "/api/model/invoke"
INFO = "/api/model/info"
HEALTH = "/healthcheck"

# ODAHU's example GPPI folders, relative to odahu-flow/packages in the unpacked tarball.
ODAHU_EXAMPLES = "tests/stuff/data/valid_gppi"
ODAHU_SDK_RESOURCES = "sdk/tests/gppi/resources"


@dataclass(frozen=True)
class Deployment:
    name: str
    folder: str            # relative to odahu-flow/packages in ODAHU's source, models/ here or
    #                        the repository's test_apps/
    source: str = "suite"  # "odahu" (its example folders), "suite" (models/) or "test_apps"


@dataclass(frozen=True)
class Case:
    id: str
    deployment: str
    body: Any = None
    path: str = INVOKE
    method: str = "POST"
    send: str = "json"
    content_type: Optional[str] = None   # only for send="raw"
    note: str = ""


DEPLOYMENTS: List[Deployment] = [
    Deployment("valid-gppi", ODAHU_EXAMPLES, source="odahu"),
    Deployment("mlflow-gppi-correct", ODAHU_SDK_RESOURCES + "/mlflow_gppi_correct", source="odahu"),
    Deployment("gppi-matrix", "gppi-matrix", source="test_apps"),
    Deployment("table", "table"),
    Deployment("echo", "echo"),
    Deployment("numpy", "numpy"),
    Deployment("faulty", "faulty"),
    Deployment("objects", "objects"),
    Deployment("unknown-mode", "unknown-mode"),
]

DEPLOYMENT_BY_NAME = {d.name: d for d in DEPLOYMENTS}

# ODAHU's GPPI folders that are not served by the pair, and why (each is still used).
NOT_SERVED: Dict[str, str] = {
    ODAHU_SDK_RESOURCES + "/mlflow_gppi_lib_missed": (
        "its init() raises ImportError, so the handler cannot even be imported: "
        "test_gppi_compat.py checks that neither server comes to serve it"),
}

# --- payloads -------------------------------------------------------------------------

COLS = ["a", "b", "label"]
ROWS = [[1, 2, "x"], [3, -4, "y"]]
ROW_JSON = '{"columns": ["a", "b", "label"], "data": [[1, 2, "x"]]}'
THOUSAND = {"columns": COLS, "data": [[i, i * 0.5, "r%d" % (i % 7)] for i in range(1000)]}


def c(id: str, deployment: str, body: Any = None, **kw: Any) -> Case:
    return Case(id=id, deployment=deployment, body=body, **kw)


def get(id: str, deployment: str, path: str, **kw: Any) -> Case:
    return Case(id=id, deployment=deployment, path=path, method="GET", send="none", **kw)


def kind(deployment: str, name: str, **kw: Any) -> Case:
    """A case of a model that answers as the first value of the first row says."""
    return c("%s-%s" % (deployment, name), deployment, {"data": [[name]]}, **kw)


CASES: List[Case] = [
    # --- ODAHU's own examples ---------------------------------------------------------------
    c("valid-gppi-invoke", "valid-gppi", {"columns": ["a", "b"], "data": [["1", "2"]]}),
    c("valid-gppi-no-columns", "valid-gppi", {"data": [[1, 2], [3, 4]]}),
    c("valid-gppi-no-data", "valid-gppi", {"columns": ["a", "b"]}),
    get("valid-gppi-info", "valid-gppi", INFO),
    get("valid-gppi-healthcheck", "valid-gppi", HEALTH),
    c("mlflow-gppi-correct-invoke", "mlflow-gppi-correct", {"columns": ["a"], "data": [[0.5]]}),
    get("mlflow-gppi-correct-info", "mlflow-gppi-correct", INFO),

    # --- gppi-matrix (test_apps): numpy scores, weights read from MODEL_LOCATION -------------
    c("gppi-matrix-invoke", "gppi-matrix",
      {"columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
       "data": [[5.1, 3.5, 1.4, 0.2], [6.0, 3.0, 5.0, 1.8]]}),
    c("gppi-matrix-reordered", "gppi-matrix",
      {"columns": ["petal_width", "petal_length", "sepal_width", "sepal_length"],
       "data": [[0.2, 1.4, 3.5, 5.1]]}),
    c("gppi-matrix-no-columns", "gppi-matrix", {"data": [[5.1, 3.5, 1.4, 0.2]]}),
    c("gppi-matrix-missing-column", "gppi-matrix", {"columns": ["petal_width"], "data": [[0.2]]}),
    c("gppi-matrix-strings", "gppi-matrix", {"data": [["a", "b", "c", "d"]]},
      note="numpy's own message: could not convert string to float"),
    get("gppi-matrix-info", "gppi-matrix", INFO),

    # --- table: valid matrices ----------------------------------------------------------------
    c("table-ints", "table", {"columns": COLS, "data": ROWS}),
    c("table-floats", "table", {"columns": COLS, "data": [[1.5, 2.25, "x"], [-0.0, 1e-9, "y"]]}),
    c("table-strings", "table", {"columns": COLS, "data": [["ab", "cd", "x"]]},
      note="a + b joins two strings, a * 2 repeats one"),
    c("table-mixed", "table", {"columns": COLS, "data": [[1, 2.5, "x"], [True, 2, "\u00e9\u2603"]]},
      note="an int and a float give a float; true + 2 is 3 in Python"),
    c("table-integral-floats", "table", {"columns": COLS, "data": [[1.0, 2.0, "x"]]},
      note="1.0 stays a float in the answer"),
    c("table-large-ints", "table",
      {"columns": COLS, "data": [[2 ** 53 + 1, 2 ** 62, "x"], [-(2 ** 63), 0, "y"]]},
      note="2**62 * 2 = 2**63 leaves int64: orjson refuses to write it (the handler's HTML 500)"),
    c("table-int64-ints", "table", {"columns": COLS, "data": [[2 ** 53 + 1, 2 ** 61, "x"]]}),
    c("table-huge-int", "table", {"columns": COLS, "data": [[2 ** 64, 1, "x"]]},
      note="orjson reads an integer beyond 64 bits as a float"),
    c("table-columns-omitted", "table", {"data": ROWS}),
    c("table-columns-null", "table", {"columns": None, "data": ROWS}),
    c("table-columns-reordered", "table", {"columns": ["label", "b", "a"], "data": [["x", 2, 1]]}),
    c("table-columns-extra", "table",
      {"columns": ["a", "extra", "b", "label"], "data": [[1, None, 2, "x"]]}),
    c("table-columns-missing", "table", {"columns": ["a", "b"], "data": [[1, 2]]},
      note="the model looks the missing column up and raises ValueError"),
    c("table-columns-empty", "table", {"columns": [], "data": ROWS},
      note="an empty list is passed on as it is, not as 'no columns'"),
    c("table-columns-string", "table", {"columns": "a,b,label", "data": [[1, 2, "x"]]},
      note="columns reach the model as sent, whatever they are"),
    c("table-thousand-rows", "table", THOUSAND),
    c("table-extra-keys", "table", {"columns": COLS, "data": ROWS, "meta": {"k": 1}}),
    # --- table: wrong types and shapes (the model raises) --------------------------------------
    c("table-err-string-plus-int", "table", {"columns": COLS, "data": [["1", 2, "x"]]}),
    c("table-err-label-not-string", "table", {"columns": COLS, "data": [[1, 2, 3]]}),
    c("table-err-null-value", "table", {"columns": COLS, "data": [[None, 2, "x"]]}),
    c("table-err-short-row", "table", {"data": [[1, 2, "x"], [1, 2]]}),
    c("table-err-row-not-list", "table", {"data": [1, 2, 3]}),
    c("table-err-empty-row", "table", {"data": [[]]}),
    c("table-err-data-object", "table", {"data": {"a": 1}}),
    c("table-err-data-string", "table", {"data": "abc"}),
    c("table-err-data-number", "table", {"data": 5}),
    # --- table: no matrix ------------------------------------------------------------------------
    c("table-no-data", "table", {"columns": COLS}),
    c("table-data-null", "table", {"columns": COLS, "data": None}),
    c("table-data-empty", "table", {"columns": COLS, "data": []}),
    c("table-data-empty-object", "table", {"data": {}}),
    c("table-data-zero", "table", {"data": 0}),
    c("table-data-false", "table", {"data": False}),
    c("table-data-empty-string", "table", {"data": ""}),
    c("table-empty-object", "table", {}),
    # --- table: bodies and Content-Types ---------------------------------------------------------
    c("table-empty-body", "table", "", send="raw", content_type="application/json"),
    c("table-no-body", "table", send="none"),
    c("table-not-utf8", "table",
      ROW_JSON.replace('"x"', '"\u00e9"').encode("latin-1"), send="raw",
      content_type="application/json"),
    c("table-not-json", "table", "{bad json", send="raw", content_type="application/json"),
    c("table-truncated-json", "table", ROW_JSON[:-4], send="raw",
      content_type="application/json"),
    c("table-nan", "table", ROW_JSON.replace("1, 2", "NaN, 2"), send="raw",
      content_type="application/json", note="NaN is not JSON: orjson refuses it"),
    c("table-infinite-number", "table", ROW_JSON.replace("1, 2", "1e400, 2"), send="raw",
      content_type="application/json"),
    c("table-bom", "table", "\ufeff" + ROW_JSON, send="raw", content_type="application/json",
      note="a UTF-8 byte order mark before the JSON"),
    c("table-body-null", "table", None, note="JSON that is not an object"),
    c("table-body-list", "table", [ROWS]),
    c("table-body-string", "table", "data"),
    c("table-body-number", "table", 42),
    c("table-whitespace", "table", "\n  " + ROW_JSON + "\n\n", send="raw",
      content_type="application/json"),
    c("table-duplicate-keys", "table", ROW_JSON[:-1] + ', "data": [[5, 6, "z"]]}', send="raw",
      content_type="application/json", note="the last of two keys wins"),
    c("table-text-plain", "table", ROW_JSON, send="raw", content_type="text/plain",
      note="the handler reads the body whatever its Content-Type"),
    c("table-no-content-type", "table", ROW_JSON, send="raw"),
    c("table-charset", "table", ROW_JSON, send="raw",
      content_type="application/json; charset=utf-8"),
    c("table-form-urlencoded", "table", ROW_JSON, send="raw",
      content_type="application/x-www-form-urlencoded",
      note="Flask parses a form body into request.form: request.data is empty"),
    # --- table: other endpoints -----------------------------------------------------------------
    get("table-info", "table", INFO),
    get("table-healthcheck", "table", HEALTH),
    get("table-invoke-get", "table", INVOKE),
    c("table-info-post", "table", {"data": ROWS}, path=INFO),
    c("table-healthcheck-post", "table", send="none", path=HEALTH),
    get("table-unknown-path", "table", "/api/model/nothing"),
    get("table-info-trailing-slash", "table", INFO + "/"),

    # --- echo: what reaches the model --------------------------------------------------------------
    c("echo-types", "echo",
      {"columns": ["x", "y", "z"],
       "data": [[1, 1.0, True], [None, "\u00e9\u2603\U0001f600", False], [-0.0, 1e-300, 1e300]]}),
    c("echo-nested", "echo", {"data": [[[1, [2]], {"k": "v"}, []]]}),
    c("echo-columns-numbers", "echo", {"columns": [1, 2], "data": [[1, 2]]}),
    c("echo-columns-object", "echo", {"columns": {"a": 1}, "data": [[1]]}),
    c("echo-ragged", "echo", {"data": [[1], [2, 3], []]}),
    c("echo-escapes", "echo", '{"data": [["\\u00e9\\n\\t\\"\\\\", "\\ud83d\\ude00"]]}',
      send="raw", content_type="application/json"),
    c("echo-lone-surrogate", "echo", '{"data": [["\\ud800"]]}', send="raw",
      content_type="application/json", note="a lone surrogate escape"),
    c("echo-exponents", "echo", '{"data": [[1E2, 1e-2, -0, 0.1e1, 12345678901234567890]]}',
      send="raw", content_type="application/json"),
    c("echo-data-true", "echo", {"data": True}),
    get("echo-info", "echo", INFO,
        note="the project's version is 1.10 unquoted: YAML reads the number 1.1"),

    # --- numpy: ndarray predictions ---------------------------------------------------------------
    *[kind("numpy", name) for name in (
        "float64", "int64", "int32", "uint8", "float32", "float16", "bool", "vector", "str",
        "object", "fortran", "transposed", "zero-d", "nan", "scalars", "datetime64", "complex",
        "empty")],
    get("numpy-info", "numpy", INFO),

    # --- faulty: model errors and odd answers -------------------------------------------------------
    *[kind("faulty", name) for name in (
        "value-error", "key-error", "no-message", "custom", "zero-division", "not-a-pair",
        "triple", "none", "dict", "string", "columns-none", "columns-list", "tuples", "nan",
        "datetime", "date", "uuid", "set", "bytes", "big-int", "int-keys")],
    c("faulty-unknown-op", "faulty", {"data": [["no-such-op"]]}),

    # --- prediction modes ------------------------------------------------------------------------
    c("objects-invoke", "objects", {"data": [[1]]}),
    c("objects-no-data", "objects", {"columns": ["x"]}),
    c("objects-body-list", "objects", [1]),
    c("objects-not-json", "objects", "{", send="raw", content_type="application/json"),
    get("objects-info", "objects", INFO),
    get("objects-healthcheck", "objects", HEALTH),
    c("unknown-mode-invoke", "unknown-mode", {"data": [[1]]}),
    c("unknown-mode-body-list", "unknown-mode", [1]),
    get("unknown-mode-info", "unknown-mode", INFO),
]


def cases_in_deployment_order() -> List[Case]:
    """CASES grouped by deployment (table order kept), so each server pair starts once."""
    order = {d.name: i for i, d in enumerate(DEPLOYMENTS)}
    return sorted(CASES, key=lambda case: order[case.deployment])
