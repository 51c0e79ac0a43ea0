"""Where modelkiln answers otherwise than `mlflow models serve`, on purpose, and why.

``DIFFERENT``: case -> (why, modelkiln's status, modelkiln's Content-Type, modelkiln's body:
JSON, or the text of a body that is not JSON). The test checks modelkiln's answer in full,
and that MLflow still answers otherwise (an entry that no longer differs is stale). Each
difference is also on docs/formats/mlflow.md.

The self-check (MODELKILN_MLFLOW_CANDIDATE=mlflow) compares these cases in full.
"""

from typing import Any, Dict, Tuple

TEXT = "text/plain; charset=utf-8"
NO_CONTENT_TYPE = (
    "a request without a Content-Type: MLflow's server fails on it with a bare 500 (its "
    "handler splits the missing header); modelkiln answers the 415 MLflow gives any other "
    "Content-Type it does not take, which says what to send")
HEAD = ("HEAD on a GET route: modelkiln answers it as GET without the body (RFC 9110 asks "
        "every server to), on every protocol; FastAPI, under MLflow, answers 405")
CONTENT_TYPES = ("This predictor only supports the following content types: Types: "
                 "['text/csv', 'application/json', 'application/vnd.apache.parquet']. Got ''.")

DIFFERENT: Dict[str, Tuple[str, int, str, Any]] = {
    "iris-no-content-type": (NO_CONTENT_TYPE, 415, TEXT, CONTENT_TYPES),
    "iris-ping-head": (HEAD, 200, "application/json", ""),
}
