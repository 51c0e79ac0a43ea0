"""The differential case table: which MLflow model folders to serve and which requests to send.

A *deployment* is one MLflow model folder written by ``make_models.py`` with the oracle's own
mlflow (saved as a data scientist's run saves it), served unchanged. A *case* is one HTTP
request sent identically to both servers. Nothing here says what the answer must be: ``mlflow
models serve`` is the oracle (``intentional.py`` lists where modelkiln answers otherwise).

How a case's body travels (``send``):

- ``json``: ``json.dumps(body)`` with ``Content-Type: application/json``;
- ``raw``: ``body`` (str or bytes) verbatim, with ``content_type`` if given (none otherwise);
- ``none``: no body and no Content-Type.
"""

from dataclasses import dataclass
from typing import Any, List, Optional


@dataclass(frozen=True)
class Deployment:
    name: str  # also the folder make_models.py writes


@dataclass(frozen=True)
class Case:
    id: str
    deployment: str
    path: str = "/invocations"
    method: str = "POST"
    send: str = "json"
    body: Any = None
    content_type: Optional[str] = None   # only for send="raw"
    note: str = ""


DEPLOYMENTS: List[Deployment] = [
    Deployment("sklearn-iris"),
    Deployment("pyfunc-params"),
    Deployment("no-signature"),
    Deployment("tensor"),
]

DEPLOYMENT_BY_NAME = {d.name: d for d in DEPLOYMENTS}

# --- payloads -------------------------------------------------------------------------

IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 2.8, 4.3, 1.3]]
IRIS_RECORDS = [dict(zip(IRIS, row)) for row in IRIS_ROWS]
IRIS_CSV = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
PARAMS_RECORDS = [{"x": 1.5, "n": 2, "word": "hi"}, {"x": -0.25, "n": 7, "word": "there",
                                                    "flag": True}]
PARAMS_SPLIT = {"columns": ["x", "n", "word"], "data": [[1.5, 2, "hi"], [2.0, 3, "yo"]]}


def iris_split(rows=None, columns=None) -> dict:
    return {"dataframe_split": {"columns": columns or IRIS, "data": rows or IRIS_ROWS}}


CASES: List[Case] = [
    # -- sklearn-iris: a column signature (four doubles), a tensor output ------------------
    Case("iris-split", "sklearn-iris", body=iris_split()),
    Case("iris-split-index", "sklearn-iris", body={"dataframe_split": {
        "index": [7, 8], "columns": IRIS, "data": IRIS_ROWS[:2]}}),
    Case("iris-records", "sklearn-iris", body={"dataframe_records": IRIS_RECORDS}),
    Case("iris-instances", "sklearn-iris", body={"instances": IRIS_RECORDS}),
    Case("iris-inputs-records", "sklearn-iris", body={"inputs": IRIS_RECORDS}),
    Case("iris-inputs-columns", "sklearn-iris", body={"inputs": {
        c: [r[i] for r in IRIS_ROWS] for i, c in enumerate(IRIS)}}),
    Case("iris-integers", "sklearn-iris", body=iris_split([[5, 3, 1, 0]]),
         note="integers where the signature says double: MLflow converts them"),
    Case("iris-extra-column", "sklearn-iris",
         body={"dataframe_records": [dict(IRIS_RECORDS[0], extra=1)]}),
    Case("iris-column-order", "sklearn-iris",
         body=iris_split([row[::-1] for row in IRIS_ROWS], IRIS[::-1])),
    Case("iris-csv", "sklearn-iris", send="raw", body=IRIS_CSV, content_type="text/csv"),
    Case("iris-csv-charset", "sklearn-iris", send="raw", body=IRIS_CSV,
         content_type="text/csv; charset=utf-8"),
    Case("iris-json-charset", "sklearn-iris", send="raw", content_type=(
        "application/json; charset=UTF-8"), body='{"dataframe_records": [%s]}'
        % ", ".join('"%s": %s' % (c, v) for c, v in zip(IRIS, IRIS_ROWS[0]))),
    Case("iris-empty-records", "sklearn-iris", body={"dataframe_records": []}),
    # bad inputs
    Case("iris-missing-column", "sklearn-iris",
         body=iris_split([row[:3] for row in IRIS_ROWS], IRIS[:3])),
    Case("iris-wrong-columns", "sklearn-iris", body=iris_split([[1.0]], ["a"])),
    Case("iris-string-value", "sklearn-iris", body=iris_split([[5.1, "wide", 1.4, 0.2]])),
    Case("iris-null-value", "sklearn-iris", body=iris_split([[5.1, None, 1.4, 0.2]])),
    Case("iris-bool-value", "sklearn-iris", body=iris_split([[5.1, True, 1.4, 0.2]])),
    Case("iris-ragged-split", "sklearn-iris", body=iris_split([[5.1, 3.5]])),
    Case("iris-split-not-object", "sklearn-iris", body={"dataframe_split": [1, 2]}),
    Case("iris-records-not-list", "sklearn-iris", body={"dataframe_records": {"a": 1}}),
    Case("iris-two-formats", "sklearn-iris",
         body=dict(iris_split(), dataframe_records=IRIS_RECORDS)),
    Case("iris-unknown-format", "sklearn-iris", body={"data": IRIS_ROWS}),
    Case("iris-old-format", "sklearn-iris", body={"columns": IRIS, "data": IRIS_ROWS},
         note="MLflow 1's scoring format"),
    Case("iris-empty-object", "sklearn-iris", body={}),
    Case("iris-json-list", "sklearn-iris", body=IRIS_RECORDS),
    Case("iris-json-number", "sklearn-iris", body=3),
    Case("iris-bad-json", "sklearn-iris", send="raw", body='{"dataframe_split": {',
         content_type="application/json"),
    Case("iris-empty-body", "sklearn-iris", send="raw", body="", content_type="application/json"),
    Case("iris-not-utf8", "sklearn-iris", send="raw", body=b'{"inputs": "\xff"}',
         content_type="application/json"),
    Case("iris-nan", "sklearn-iris", send="raw", content_type="application/json",
         body='{"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", '
              '"petal_width"], "data": [[NaN, 3.5, 1.4, 0.2]]}}'),
    Case("iris-bad-csv", "sklearn-iris", send="raw", body='a,b\n"x\n', content_type="text/csv"),
    Case("iris-csv-wrong-columns", "sklearn-iris", send="raw", body="a,b\n1,2\n",
         content_type="text/csv"),
    Case("iris-csv-text-values", "sklearn-iris", send="raw", content_type="text/csv",
         body="sepal_length,sepal_width,petal_length,petal_width\nx,3.5,1.4,0.2\n"),
    Case("iris-text-plain", "sklearn-iris", send="raw", body="5.1,3.5", content_type="text/plain"),
    Case("iris-form", "sklearn-iris", send="raw", body="a=1",
         content_type="application/x-www-form-urlencoded"),
    Case("iris-charset-latin1", "sklearn-iris", send="raw", body=IRIS_CSV,
         content_type="text/csv; charset=latin-1"),
    Case("iris-content-parameter", "sklearn-iris", send="raw", body=IRIS_CSV,
         content_type="text/csv; format=pandas-split"),
    Case("iris-no-content-type", "sklearn-iris", send="raw", body='{"inputs": []}'),
    # the other routes
    Case("iris-ping", "sklearn-iris", path="/ping", method="GET", send="none"),
    Case("iris-health", "sklearn-iris", path="/health", method="GET", send="none"),
    Case("iris-version", "sklearn-iris", path="/version", method="GET", send="none"),
    Case("iris-invocations-get", "sklearn-iris", method="GET", send="none"),
    Case("iris-ping-post", "sklearn-iris", path="/ping", send="none"),
    Case("iris-version-post", "sklearn-iris", path="/version", send="none"),
    Case("iris-unknown-path", "sklearn-iris", path="/nowhere", method="GET", send="none"),
    Case("iris-unknown-path-post", "sklearn-iris", path="/score", body=iris_split()),
    Case("iris-ping-head", "sklearn-iris", path="/ping", method="HEAD", send="none"),

    # -- pyfunc-params: typed columns, an optional one, params -----------------------------
    Case("params-records", "pyfunc-params", body={"dataframe_records": PARAMS_RECORDS}),
    Case("params-split", "pyfunc-params", body={"dataframe_split": PARAMS_SPLIT}),
    Case("params-given", "pyfunc-params", body={
        "dataframe_records": PARAMS_RECORDS,
        "params": {"scale": 2.5, "offset": 3, "suffix": "!", "upper": True,
                   "weights": [0.5, 0.25]}}),
    Case("params-inputs", "pyfunc-params", body={
        "inputs": {"x": [1.0, 2.0], "n": [1, 2], "word": ["a", "b"]}, "params": {"suffix": "?"}}),
    Case("params-instances", "pyfunc-params", body={
        "instances": PARAMS_RECORDS[:1], "params": {"offset": 10}}),
    Case("params-csv", "pyfunc-params", send="raw", content_type="text/csv",
         body="x,n,word\n1.5,2,hi\n0.5,1,yo\n"),
    Case("params-int-for-double", "pyfunc-params", body={
        "dataframe_records": PARAMS_RECORDS, "params": {"scale": 2}}),
    Case("params-null-param", "pyfunc-params", body={
        "dataframe_records": PARAMS_RECORDS, "params": {"suffix": None}}),
    # params violating the schema
    Case("params-wrong-type", "pyfunc-params", body={
        "dataframe_records": PARAMS_RECORDS, "params": {"scale": "big"}}),
    Case("params-float-for-long", "pyfunc-params", body={
        "dataframe_records": PARAMS_RECORDS, "params": {"offset": 1.5}}),
    Case("params-list-for-scalar", "pyfunc-params", body={
        "dataframe_records": PARAMS_RECORDS, "params": {"suffix": ["a"]}}),
    Case("params-scalar-for-list", "pyfunc-params", body={
        "dataframe_records": PARAMS_RECORDS, "params": {"weights": 1.0}}),
    Case("params-unknown-param", "pyfunc-params", body={
        "dataframe_records": PARAMS_RECORDS, "params": {"temperature": 0.5}}),
    Case("params-not-object", "pyfunc-params", body={
        "dataframe_records": PARAMS_RECORDS, "params": [1, 2]}),
    # columns violating the schema
    Case("params-missing-required", "pyfunc-params",
         body={"dataframe_records": [{"x": 1.5, "word": "hi"}]}),
    Case("params-string-for-long", "pyfunc-params",
         body={"dataframe_records": [{"x": 1.5, "n": "two", "word": "hi"}]}),
    Case("params-float-for-long-column", "pyfunc-params",
         body={"dataframe_records": [{"x": 1.5, "n": 2.5, "word": "hi"}]}),
    Case("params-number-for-string", "pyfunc-params",
         body={"dataframe_records": [{"x": 1.5, "n": 2, "word": 3}]}),
    Case("params-string-for-bool", "pyfunc-params",
         body={"dataframe_records": [{"x": 1.5, "n": 2, "word": "a", "flag": "yes"}]}),
    Case("params-ping", "pyfunc-params", path="/ping", method="GET", send="none"),

    # -- no-signature: nothing enforced --------------------------------------------------
    Case("nosig-records", "no-signature",
         body={"dataframe_records": [{"a": 1, "b": 2.5}, {"a": 3, "b": -1}]}),
    Case("nosig-split", "no-signature", body={"dataframe_split": {
        "columns": ["a", "b", "c"], "data": [[1, 2, "x"], [3, 4, "y"]]}}),
    Case("nosig-strings", "no-signature",
         body={"dataframe_records": [{"word": "a"}, {"word": "b"}]}),
    Case("nosig-inputs-list", "no-signature", body={"inputs": [[1, 2], [3, 4]]}),
    Case("nosig-inputs-dict", "no-signature", body={"inputs": {"a": [1, 2], "b": [3, 4]}}),
    Case("nosig-instances-scalars", "no-signature", body={"instances": [1, 2, 3]}),
    Case("nosig-csv", "no-signature", send="raw", body="a,b\n1,2\n3,4\n",
         content_type="text/csv"),
    Case("nosig-params-ignored", "no-signature",
         body={"dataframe_records": [{"a": 1}], "params": {"k": 1}}),
    Case("nosig-ragged-inputs", "no-signature", body={"inputs": {"a": [1, 2], "b": [3]}}),
    Case("nosig-unknown-format", "no-signature", body={"rows": [1]}),

    # -- tensor: a float64 (-1, 3) tensor signature -------------------------------------
    Case("tensor-inputs", "tensor", body={"inputs": [[1.0, 2.0, 3.0], [0.5, 0.25, 0.125]]}),
    Case("tensor-instances", "tensor", body={"instances": [[1.0, 2.0, 3.0]]}),
    Case("tensor-integers", "tensor", body={"inputs": [[1, 2, 3]]}),
    Case("tensor-wrong-shape", "tensor", body={"inputs": [[1.0, 2.0]]}),
    Case("tensor-strings", "tensor", body={"inputs": [["a", "b", "c"]]}),
    Case("tensor-split", "tensor", body={"dataframe_split": {
        "columns": ["a", "b", "c"], "data": [[1.0, 2.0, 3.0]]}}),
    Case("tensor-csv", "tensor", send="raw", body="a,b,c\n1.0,2.0,3.0\n", content_type="text/csv"),
    Case("tensor-3d", "tensor", body={"inputs": [[[1.0, 2.0, 3.0]]]}),
]


def cases_in_deployment_order() -> List[Case]:
    """Grouped by deployment (so each server pair starts once), table order within."""
    order = {d.name: i for i, d in enumerate(DEPLOYMENTS)}
    return sorted(CASES, key=lambda c: order[c.deployment])
