"""The same REST requests to tritonserver and to modelkiln: identical status, Content-Type and
body (JSON compared parsed, binary bodies byte for byte), except the intentional differences
(intentional.py)."""

import json

import pytest
import requests

from .cases import CASES
from .intentional import INTENTIONAL


def send(base_url, method, path, body, headers):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    return requests.request(method, base_url + path, data=data, headers=headers, timeout=60)


def normalised(answer):
    """(status, media type, body): JSON parsed when it is JSON (the binary extension's JSON
    header parsed and its bytes kept)."""
    media = (answer.headers.get("Content-Type") or "").split(";")[0]
    body = answer.content
    length = answer.headers.get("Inference-Header-Content-Length")
    if length is not None:
        return answer.status_code, media, (json.loads(body[:int(length)]), body[int(length):])
    try:
        return answer.status_code, media, json.loads(body) if body else body
    except ValueError:
        return answer.status_code, media, body


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_same_answer(case, triton, modelkiln):
    name, model, method, path, body, headers = case
    theirs = normalised(send(triton.url(""), method, path, body, headers))
    server = modelkiln.get(model, modelkiln["scale"])
    ours = normalised(send(server.url(""), method, path, body, headers))
    if name in INTENTIONAL:
        why, status = INTENTIONAL[name]
        assert ours[0] == status, (why, ours)
        return
    assert ours == theirs
