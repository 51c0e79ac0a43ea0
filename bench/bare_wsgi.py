"""The ceiling: a bare WSGI callable doing the same work as the model servers.

Parse the JSON body, build the numpy array, call the same user class, ``.tolist()``,
dump JSON. No framework, no validation, no metrics. Run under gunicorn's sync worker:

    gunicorn -k sync -w 1 --chdir bench bare_wsgi:application

Any path answers: GET -> 200 "ok" (readiness), POST -> the prediction, in the same
form (ndarray or tensor) as the request.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "model"))
from IrisSoftmax import IrisSoftmax  # noqa: E402

try:
    import orjson

    loads = orjson.loads
    dumps = orjson.dumps
except ImportError:  # pragma: no cover - the bench venv has orjson
    import json

    loads = json.loads

    def dumps(obj):
        return json.dumps(obj, separators=(",", ":")).encode()


_model = IrisSoftmax()
_OK = [("Content-Type", "text/plain"), ("Content-Length", "2")]


def application(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        start_response("200 OK", _OK)
        return [b"ok"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = loads(environ["wsgi.input"].read(length))["data"]
    if "tensor" in data:
        t = data["tensor"]
        X = np.array(t["values"], dtype=np.float64).reshape(t["shape"])
        y = _model.predict(X, None)
        out = {"data": {"tensor": {"shape": list(y.shape), "values": y.ravel().tolist()}}}
    else:
        y = _model.predict(np.array(data["ndarray"]), None)
        out = {"data": {"ndarray": y.tolist()}}
    body = dumps(out)
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
