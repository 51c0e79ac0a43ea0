"""Where modelkiln answers otherwise than ODAHU's handler on purpose, each with its reason.

Every other case must match the handler in full (status, Content-Type, Model-Name and
Model-Version headers, JSON body). An entry says how its case is compared instead; the test
also checks that the handler still answers as the entry says (an entry whose case the handler
answers otherwise is reported as stale). The self-check (MODELKILN_GPPI_CANDIDATE=odahu)
compares every case in full.
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class Difference:
    why: str
    # modelkiln's status where it differs from the handler's (None: the same status)
    status: Optional[int] = None
    # modelkiln's whole JSON body where the handler's is a Flask HTML page (None: compared)
    body: Any = None
    # the handler answers a Flask/Werkzeug HTML page: the status alone is compared
    status_only: bool = False
    # the handler's {"message": ...} compared up to this prefix only
    prefix: Optional[str] = None


# --- the handler answers a Flask/Werkzeug HTML page: only the status is compared ----------
ROUTE_404 = Difference("no such route: the handler's Flask answers Werkzeug's HTML 404 page",
                       status_only=True)
METHOD_405 = Difference("the route does not take this method: Flask answers Werkzeug's HTML "
                        "405 page", status_only=True)
UNWRITABLE = Difference(
    "the model's answer is no JSON orjson writes (a set, bytes, an integer beyond 64 bits, a "
    "dict with int keys, complex numbers): the handler's orjson.dumps raises outside its try "
    "and Flask answers its HTML 500 page; modelkiln answers a JSON 500 naming the problem",
    status_only=True)

# --- a client's mistake: the handler answers 500, modelkiln 400 with the same body ----------
CLIENT = ("a client's mistake, which the handler answers with 500: modelkiln answers 400 "
          "(\"no 500 for a client's mistake\") with the handler's body")
CLIENT_MISTAKE = Difference(CLIENT, status=400)

# --- orjson's wording ---------------------------------------------------------------------
PARSER = "Can not parse input as JSON: "
PARSER_WORDING = Difference(
    CLIENT + "; after \"%s\" comes orjson's own message, worded differently by each orjson "
    "release (the handler's image has 3.4.0, the oracle here 3.7.7, modelkiln its own pin), "
    "so the message is compared up to there" % PARSER, status=400, prefix=PARSER)

# --- JSON that is not an object: the handler's parsed_data.get raises AttributeError ------
NOT_AN_OBJECT = ("JSON that is not an object: the handler calls .get on it, which raises outside "
                 "its try, and Flask answers its HTML 500 page; modelkiln answers 400 with the "
                 "handler's message for a missing matrix, saying what came instead")
SHAPE = 'Matrix is not provided: expected {"columns": [...], "data": [[...], ...]}, got %s'


def not_an_object(got: str) -> Difference:
    return Difference(NOT_AN_OBJECT, status=400, body={"message": SHAPE % got})


DIFFERENCES: Dict[str, Difference] = {
    # no such route, or not this method
    "table-invoke-get": METHOD_405,
    "table-info-post": METHOD_405,
    "table-healthcheck-post": METHOD_405,
    "table-unknown-path": ROUTE_404,
    "table-info-trailing-slash": ROUTE_404,
    # no body, or one that is not UTF-8
    "table-empty-body": CLIENT_MISTAKE,
    "table-no-body": CLIENT_MISTAKE,
    "table-form-urlencoded": CLIENT_MISTAKE,
    "table-not-utf8": CLIENT_MISTAKE,
    # not JSON
    "table-not-json": PARSER_WORDING,
    "table-truncated-json": PARSER_WORDING,
    "table-nan": PARSER_WORDING,
    "table-infinite-number": PARSER_WORDING,
    "table-bom": PARSER_WORDING,
    "echo-lone-surrogate": PARSER_WORDING,
    "objects-not-json": PARSER_WORDING,
    # JSON, but not an object
    "table-body-null": not_an_object("null"),
    "table-body-list": not_an_object("an array"),
    "table-body-string": not_an_object("a string"),
    "table-body-number": not_an_object("a number"),
    # an object without a matrix ("Matrix is not provided")
    "valid-gppi-no-data": CLIENT_MISTAKE,
    "table-no-data": CLIENT_MISTAKE,
    "table-data-null": CLIENT_MISTAKE,
    "table-data-empty": CLIENT_MISTAKE,
    "table-data-empty-object": CLIENT_MISTAKE,
    "table-data-zero": CLIENT_MISTAKE,
    "table-data-false": CLIENT_MISTAKE,
    "table-data-empty-string": CLIENT_MISTAKE,
    "table-empty-object": CLIENT_MISTAKE,
    # answers JSON cannot hold
    "table-large-ints": UNWRITABLE,
    "numpy-complex": UNWRITABLE,
    "faulty-set": UNWRITABLE,
    "faulty-bytes": UNWRITABLE,
    "faulty-big-int": UNWRITABLE,
    "faulty-int-keys": UNWRITABLE,
}

# --- ODAHU's docker-cli image (test_cli.py) ---------------------------------------------------
# Cases where ODAHU's invoker crashes and modelkiln writes an answer: case -> (why, what the
# invoker's traceback says, modelkiln's results.json). The test checks both.
LIST_ANSWER = ("the model answers a list, as ODAHU's own example does: ODAHU's invoker calls "
               "prediction.tolist() and crashes with AttributeError; modelkiln writes the answer "
               "as the docker-rest API gives it (and as the invoker does for an ndarray)")
NO_TOLIST = "AttributeError: 'list' object has no attribute 'tolist'"

CLI_DIFFERENCES: Dict[str, Tuple[str, str, Any]] = {
    "cli-table-ints": (LIST_ANSWER, NO_TOLIST,
                       {"prediction": [[3, "X", 2]], "columns": ["total", "shout", "double"]}),
    "cli-valid-gppi": (LIST_ANSWER, NO_TOLIST, {"prediction": [[42]], "columns": ["result"]}),
}
