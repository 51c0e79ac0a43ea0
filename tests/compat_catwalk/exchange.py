"""Send one case to a server, and compare two answers.

Compared: the HTTP status, the Content-Type header (as sent), and the JSON body with strict
types (``1`` and ``1.0`` differ, as do ``true`` and ``1``; object key order does not matter;
NaN and Infinity compared by spelling), or the text of a body that is not JSON. One field is
normalised: a ``correlation_id`` the server generated (the request had none) must be a UUID4
in its canonical spelling and is then compared as ``<generated uuid4>``.
"""

import json
import uuid
from typing import Any, Optional, Tuple

import requests

from tests.compat.exchange import Answer, _canon_numbers, canonical, same, show_answer

from .cases import Case

__all__ = ["Answer", "canonical", "describe_request", "explain", "normalise", "same", "send",
           "show_answer"]

GENERATED_ID = "<generated uuid4>"
TIMEOUT = 30


def request_body(case: Case) -> Optional[bytes]:
    if case.send == "json":
        return json.dumps(case.body).encode()
    if case.send == "raw":
        return case.body.encode() if isinstance(case.body, str) else case.body
    if case.send == "none":
        return None
    raise ValueError("unknown send mode %r in case %s" % (case.send, case.id))


def send(base_url: str, case: Case) -> Answer:
    headers = {}
    if case.send == "json":
        headers["Content-Type"] = "application/json"
    elif case.content_type:
        headers["Content-Type"] = case.content_type
    # requests adds no Content-Type of its own for a bytes body (or none).
    r = requests.request(case.method, base_url + case.path, data=request_body(case),
                         headers=headers, timeout=TIMEOUT)
    return Answer.from_response(r)


def sends_correlation_id(case: Case) -> bool:
    """Whether the request carries a correlation_id (else the server generates one)."""
    body = request_body(case)
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return False
    return isinstance(parsed, dict) and "correlation_id" in parsed


def is_uuid4(value: Any) -> bool:
    try:
        parsed = uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return parsed.version == 4 and str(parsed) == value


def normalise(answer: Answer, case: Case, status_only: bool = False) -> Tuple[Any, ...]:
    """What is compared: (status,) or (status, Content-Type, kind, body)."""
    if status_only:
        return (answer.status,)
    if not answer.is_json:
        return (answer.status, answer.content_type, "text", answer.text)
    body = _canon_numbers(answer.json)
    if isinstance(body, dict) and "correlation_id" in body and not sends_correlation_id(case):
        if is_uuid4(body["correlation_id"]):
            body["correlation_id"] = GENERATED_ID
    return (answer.status, answer.content_type, "json", body)


def describe_request(case: Case) -> str:
    """One line and the body, exactly as sent."""
    head = "%s %s  (send=%s" % (case.method, case.path, case.send)
    if case.send == "json":
        head += ", Content-Type: application/json"
    elif case.content_type:
        head += ", Content-Type: %s" % case.content_type
    head += ")"
    if case.send == "none":
        return head
    body = request_body(case)
    try:
        return head + "\nbody: " + body.decode("utf-8")
    except UnicodeDecodeError:
        return head + "\nbody: " + repr(body)


def explain(case: Case, oracle: Answer, cand: Answer, oracle_n, cand_n, cand_label: str) -> str:
    return (
        "\n%s differs from catwalk\n--- request ---\n%s\n--- catwalk ---\n%s\n--- %s ---\n%s\n"
        "--- compared (catwalk) ---\n%s\n--- compared (%s) ---\n%s\n"
        % (case.id, describe_request(case), show_answer(oracle), cand_label, show_answer(cand),
           canonical(oracle_n), cand_label, canonical(cand_n))
    )
