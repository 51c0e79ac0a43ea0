"""Cases whose catwalk answer is a Flask/Werkzeug HTML page: only the status is compared.

catwalk's own handlers answer JSON. Where the request never reaches them (no such route, a
method the route does not take) or the model raises, its Flask development server answers
with Werkzeug's HTML error page instead. modelkiln answers those with the same status and its
own body, so the body and Content-Type are not compared. Each entry names its case and says
why in one line; the test checks that catwalk really answers HTML there, so an entry whose
case catwalk answers with JSON is reported as stale.

The self-check (MODELKILN_CATWALK_CANDIDATE=catwalk) still compares these cases in full.
"""

from typing import Any, Dict, Tuple

ROUTE_404 = "no such route: catwalk answers Werkzeug's HTML 404 page"
METHOD_405 = "the route does not take this method: catwalk answers Werkzeug's HTML 405 page"
MODEL_RAISED = "the model raised: catwalk answers Flask's HTML 500 page"

INTENTIONAL: Dict[str, str] = {
    "rng-predict-get": METHOD_405,
    "rng-unknown-path": ROUTE_404,
    "rng-unknown-path-post": ROUTE_404,
    "rng-status-post": METHOD_405,
    "rng-info-post": METHOD_405,
    "neuron-length-mismatch": MODEL_RAISED,
    "dataframe-empty-list": MODEL_RAISED,
}

# Cases where modelkiln answers differently on purpose, with the answer it gives instead:
# case -> (why, modelkiln's status, modelkiln's JSON body). The test checks modelkiln's answer
# in full, and that catwalk still answers otherwise (an entry that no longer differs is stale).
NOT_JSON = ("NaN is not JSON (RFC 8259): modelkiln refuses it as it refuses any body that is "
            "not JSON; catwalk reads it and answers NaN, which strict JSON parsers reject")

DIFFERENT: Dict[str, Tuple[str, int, Any]] = {
    "rng-nan-mu": (NOT_JSON, 400, {"output": {"message": "Invalid POST data: JSON parse error."}}),
}
