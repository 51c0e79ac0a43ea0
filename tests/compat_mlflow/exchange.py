"""Send one case to a server, and compare two answers.

Compared: the HTTP status, the Content-Type header (as sent), and the JSON body with strict
types (``1`` and ``1.0`` differ, as do ``true`` and ``1``; object key order does not matter;
NaN and Infinity compared by spelling), or the text of a body that is not JSON. One field is
normalised: MLflow's ``stack_trace`` (sent with some errors) names the files of the server's
own virtualenv, so only its last line, the exception, is compared. (MLflow writes Python sets
into some messages, ``exactly one of the input fields {'inputs', ...}``: both servers run with
the same PYTHONHASHSEED, so their order is the same on both sides; see servers.py.)
"""

from typing import Any, Tuple

from tests.compat.exchange import Answer, _canon_numbers, canonical, same, show_answer
from tests.compat_catwalk.exchange import describe_request, request_body, send

from .cases import Case

__all__ = ["Answer", "canonical", "describe_request", "explain", "normalise", "request_body",
           "same", "send", "show_answer"]


def last_line(trace: Any) -> Any:
    if not isinstance(trace, str):
        return trace
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def normalise(answer: Answer, case: Case, status_only: bool = False) -> Tuple[Any, ...]:
    """What is compared: (status,) or (status, Content-Type, kind, body)."""
    if status_only:
        return (answer.status,)
    if not answer.is_json:
        return (answer.status, answer.content_type, "text", answer.text)
    body = _canon_numbers(answer.json)
    if isinstance(body, dict) and "stack_trace" in body:
        body["stack_trace"] = last_line(body["stack_trace"])
    return (answer.status, answer.content_type, "json", body)


def explain(case: Case, oracle: Answer, cand: Answer, oracle_n, cand_n, cand_label: str) -> str:
    return (
        "\n%s differs from mlflow\n--- request ---\n%s\n--- mlflow ---\n%s\n--- %s ---\n%s\n"
        "--- compared (mlflow) ---\n%s\n--- compared (%s) ---\n%s\n"
        % (case.id, describe_request(case), show_answer(oracle), cand_label, show_answer(cand),
           canonical(oracle_n), cand_label, canonical(cand_n))
    )
