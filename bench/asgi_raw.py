"""What a speed-minded engineer writes instead of a model server: a raw ASGI app on uvicorn
(httptools, uvloop), orjson, the same user class and the same Seldon body as the others.

    uvicorn --app-dir bench asgi_raw:app --http httptools --loop uvloop --no-access-log
"""
import os
import sys

import numpy as np
import orjson

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "model"))
from IrisSoftmax import IrisSoftmax  # noqa: E402

model = IrisSoftmax()
JSON = [(b"content-type", b"application/json")]


async def app(scope, receive, send):
    if scope["type"] != "http":  # lifespan: nothing to start
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["method"] != "POST":
        answer = b"ok"
    else:
        data = orjson.loads(body)["data"]
        if "tensor" in data:
            t = data["tensor"]
            y = model.predict(np.array(t["values"], dtype=np.float64).reshape(t["shape"]), None)
            out = {"data": {"tensor": {"shape": list(y.shape), "values": y.ravel().tolist()}}}
        else:
            out = {"data": {"ndarray": model.predict(np.array(data["ndarray"]), None).tolist()}}
        answer = orjson.dumps(out)
    await send({"type": "http.response.start", "status": 200, "headers": JSON})
    await send({"type": "http.response.body", "body": answer})
