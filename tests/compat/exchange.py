"""Send one case to a server, and compare two answers.

Comparison is exact on the HTTP status and on the JSON body (types included: ``1`` and
``1.0`` differ, as do ``true`` and ``1``; object key order does not matter), or on the text
when a body is not JSON. Only fields that name the server image are normalised:

- every value of a ``meta.requestPath`` object (the keys, i.e. unit ids, are compared);
- ``name`` and ``versions`` of a ``/metadata`` answer when the deployment has no user metadata.

A deployment with ``exact_identity`` (PREDICTIVE_UNIT_ID/IMAGE set) is compared without any
normalisation.
"""

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import requests

from .cases import Case, Deployment, File, Text

IMAGE = "<server image>"
TIMEOUT = 30


@dataclass
class Answer:
    status: int
    content_type: str
    text: str
    raw: bytes
    json: Any = None
    is_json: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)  # requests' case-insensitive dict

    @classmethod
    def from_response(cls, r: requests.Response) -> "Answer":
        text = r.content.decode("utf-8", errors="replace")
        try:
            parsed, ok = json.loads(text), True
        except ValueError:
            parsed, ok = None, False
        return cls(r.status_code, r.headers.get("Content-Type", ""), text, r.content, parsed, ok,
                   r.headers)


def send(base_url: str, case: Case) -> Answer:
    url = base_url + case.path
    kw = {"timeout": TIMEOUT}
    if case.send == "json":
        kw["data"] = json.dumps(case.body).encode()
        kw["headers"] = {"Content-Type": "application/json"}
    elif case.send == "form":
        kw["data"] = {"json": json.dumps(case.body)}
    elif case.send == "query":
        kw["params"] = {"json": json.dumps(case.body)}
    elif case.send == "multipart":
        parts = []
        for key, value in case.body.items():
            if isinstance(value, File):
                parts.append((key, (value.filename, value.content, "text/plain")))
            elif isinstance(value, Text):
                parts.append((key, (None, value.value)))
            elif key == "binData":
                parts.append((key, ("payload.bin", value, "application/octet-stream")))
            elif key == "strData":
                parts.append((key, (None, value)))
            else:
                parts.append((key, (None, json.dumps(value))))
        kw["files"] = parts
    elif case.send == "raw":
        body = case.body.encode() if isinstance(case.body, str) else case.body
        kw["data"] = body
        # requests adds no Content-Type for bytes bodies; send exactly what the case says.
        if case.content_type:
            kw["headers"] = {"Content-Type": case.content_type}
    elif case.send != "none":
        raise ValueError("unknown send mode %r in case %s" % (case.send, case.id))
    return Answer.from_response(requests.request(case.method, url, **kw))


def _canon_numbers(value: Any) -> Any:
    """NaN != NaN in Python; give non-finite floats a comparable spelling."""
    if isinstance(value, float) and not math.isfinite(value):
        return "<%s>" % value
    if isinstance(value, list):
        return [_canon_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _canon_numbers(v) for k, v in value.items()}
    return value


def _hide_request_path(value: Any) -> Any:
    if isinstance(value, list):
        return [_hide_request_path(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "requestPath" and isinstance(v, dict):
                out[k] = {unit: IMAGE for unit in v}
            else:
                out[k] = _hide_request_path(v)
        return out
    return value


def is_metadata_path(path: str) -> bool:
    return urlsplit(path).path.rstrip("/") in ("/metadata", "/api/v1.0/metadata")


def normalise(answer: Answer, case: Case, dep: Deployment) -> Tuple[Any, ...]:
    """What is compared: (status,) for compare="status", else (status, kind, body)."""
    if case.compare == "status":
        return (answer.status,)
    if not answer.is_json:
        return (answer.status, "text", answer.text)
    body = _canon_numbers(answer.json)
    if not dep.exact_identity:
        body = _hide_request_path(body)
        if is_metadata_path(case.path) and not dep.user_metadata and isinstance(body, dict):
            for key in ("name", "versions"):
                if key in body:
                    body[key] = IMAGE
    return (answer.status, "json", body)


def canonical(normalised: Tuple[Any, ...]) -> str:
    """A strict, order-independent spelling: 1 vs 1.0 and true vs 1 stay different."""
    return json.dumps(list(normalised), sort_keys=True, ensure_ascii=False, allow_nan=True)


def same(a: Tuple[Any, ...], b: Tuple[Any, ...]) -> bool:
    return canonical(a) == canonical(b)


def describe_request(case: Case) -> str:
    """One line or a short block describing exactly what was sent."""
    head = "%s %s  (send=%s" % (case.method, case.path, case.send)
    if case.content_type:
        head += ", Content-Type: %s" % case.content_type
    head += ")"
    if case.send == "none":
        return head
    if case.send == "raw":
        return head + "\nbody: " + repr(case.body)
    if case.send == "multipart":
        shown = {}
        for k, v in case.body.items():
            if isinstance(v, File):
                shown[k] = "<file %s: %r>" % (v.filename, v.content)
            elif isinstance(v, Text):
                shown[k] = "<text field: %r>" % v.value
            elif isinstance(v, bytes):
                shown[k] = "<file payload.bin: %r>" % v
            else:
                shown[k] = v
        return head + "\nparts: " + json.dumps(shown, ensure_ascii=False)
    return head + "\nbody: " + json.dumps(case.body, ensure_ascii=False)


def show_answer(answer: Optional[Answer]) -> str:
    if answer is None:
        return "(no answer)"
    return "HTTP %d  Content-Type: %s\n%s" % (answer.status, answer.content_type, answer.text.rstrip("\n"))


def explain(case: Case, oracle: Answer, cand: Answer, oracle_n, cand_n, cand_label: str) -> str:
    return (
        "\n%s differs from seldon-core 1.18\n--- request ---\n%s\n--- seldon ---\n%s\n--- %s ---\n%s\n"
        "--- compared (seldon) ---\n%s\n--- compared (%s) ---\n%s\n"
        % (case.id, describe_request(case), show_answer(oracle), cand_label, show_answer(cand),
           canonical(oracle_n), cand_label, canonical(cand_n))
    )


def expected_normalised(diff, case: Case, dep: Deployment) -> Tuple[Any, ...]:
    """The compared form of an ``intentional.Difference``'s recorded answer."""
    if diff.status_only:
        return (diff.status,)
    fake = Answer(status=diff.status, content_type="", text=diff.text or "", raw=b"",
                  json=diff.json, is_json=diff.text is None)
    return normalise(fake, case, dep)
