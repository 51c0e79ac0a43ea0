"""bench/triton.py's ceiling peer: the scale model's V2 JSON route as a raw ASGI app on
uvicorn (httptools, uvloop) with orjson, the least a Python server can do for the same answer.
JSON only (no binary extension, no gRPC), no checks, one process; for the rows it serves it
shows what any single Python process on one core reaches.

    uvicorn --app-dir bench asgi_triton:app --http httptools --loop uvloop --no-access-log
"""
import numpy as np
import orjson

JSON = [(b"content-type", b"application/json")]
TWO, HALF = np.float32(2), np.float32(0.5)


async def app(scope, receive, send):
    if scope["type"] != "http":  # lifespan: nothing to start
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["method"] != "POST":  # readiness
        answer = b"{}"
    else:
        request = orjson.loads(body)
        item = request["inputs"][0]
        x = np.array(item["data"], dtype=np.float32).reshape(item["shape"])
        y = x * TWO + HALF
        total = y.sum(axis=1)
        name = scope["path"].split("/")[3]
        answer = orjson.dumps({"model_name": name, "model_version": "1", "outputs": [
            {"name": "OUTPUT0", "datatype": "FP32", "shape": list(y.shape), "data": y.ravel()},
            {"name": "SUM", "datatype": "FP32", "shape": list(total.shape), "data": total}]},
            option=orjson.OPT_SERIALIZE_NUMPY)
    await send({"type": "http.response.start", "status": 200, "headers": JSON})
    await send({"type": "http.response.body", "body": answer})
