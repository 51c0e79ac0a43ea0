"""Send one case to a server, and compare two answers.

Compared: the HTTP status, the Content-Type header (as sent), the ``Model-Name`` and
``Model-Version`` headers (absent is compared too), and the JSON body with strict types (``1``
and ``1.0`` differ, as do ``true`` and ``1``; object key order does not matter; NaN compared by
spelling), or the text of a body that is not JSON. Nothing is normalised, but where
intentional.py says so: a ``message`` compared up to a prefix only.
"""

from typing import Any, List, Optional, Tuple

from tests.compat.exchange import Answer, _canon_numbers, canonical, same, show_answer
from tests.compat_catwalk.exchange import describe_request, send

from .cases import Case

__all__ = ["Answer", "canonical", "describe_request", "explain", "message", "normalise", "same",
           "send", "show_answer"]

MODEL_HEADERS = ("Model-Name", "Model-Version")


def model_headers(answer: Answer) -> List[Optional[str]]:
    return [answer.headers.get(name) for name in MODEL_HEADERS]


def message(answer: Answer) -> Optional[str]:
    """The ``message`` of a JSON object answer (ODAHU's error body), else None."""
    body = answer.json if answer.is_json else None
    return body.get("message") if isinstance(body, dict) else None


def normalise(answer: Answer, status_only: bool = False, prefix: Optional[str] = None,
              status: Optional[int] = None) -> Tuple[Any, ...]:
    """What is compared: (status,) or (status, Content-Type, model headers, kind, body), with
    ``status`` in place of the answer's when given and a ``message`` that starts with
    ``prefix`` cut there."""
    code = answer.status if status is None else status
    if status_only:
        return (code,)
    headers = model_headers(answer)
    if not answer.is_json:
        return (code, answer.content_type, headers, "text", answer.text)
    body = _canon_numbers(answer.json)
    text = message(answer)
    if prefix is not None and text is not None and text.startswith(prefix):
        body = dict(body, message=prefix + "...")
    return (code, answer.content_type, headers, "json", body)


def show(answer: Answer) -> str:
    shown = show_answer(answer)
    if any(model_headers(answer)):
        shown = shown.replace("\n", "  %s\n" % ", ".join(
            "%s: %s" % pair for pair in zip(MODEL_HEADERS, model_headers(answer))), 1)
    return shown


def explain(case: Case, oracle: Answer, cand: Answer, oracle_n, cand_n, cand_label: str) -> str:
    return (
        "\n%s differs from ODAHU's handler\n--- request ---\n%s\n--- odahu ---\n%s\n--- %s ---\n"
        "%s\n--- compared (odahu) ---\n%s\n--- compared (%s) ---\n%s\n"
        % (case.id, describe_request(case), show(oracle), cand_label, show(cand),
           canonical(oracle_n), cand_label, canonical(cand_n))
    )

