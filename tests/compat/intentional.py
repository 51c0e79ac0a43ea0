"""Cases where modelkiln answers differently from seldon-core 1.18 on purpose.

Each entry maps a case id (see ``cases.py``) to a ``Difference``: why modelkiln differs, and
the answer modelkiln must give instead (status, and the JSON body or the text). The test
then checks the modelkiln answer against this entry, with the same normalisation as the
differential comparison, instead of against seldon's answer.

Example::

    "bare-err-nan-input": Difference(
        reason="NaN/Infinity are not JSON; rejected with a clear 400",
        status=400,
        json={"status": {"status": 1, "code": -1, "reason": "MICROSERVICE_BAD_DATA",
                         "info": "..."}},
    ),
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional


@dataclass(frozen=True)
class Difference:
    reason: str
    status: int
    json: Any = None            # expected JSON body (compared like seldon's would be)
    text: Optional[str] = None  # expected text body, for answers that are not JSON
    status_only: bool = False   # True: only the status is checked


# Why modelkiln answers differently; README.md lists these reasons ("Differences from
# Seldon Core's wrapper"), and a test keeps the two in step.
ROUTING = ("Unknown routes and wrong methods answer 404 / 405 with a JSON error body; Seldon "
           "answers 500 with Werkzeug's text.")
BAD_INPUT_IS_400 = ("Malformed input is the client's error: 400 MICROSERVICE_BAD_DATA naming "
                    "the problem, where Seldon fails inside and answers 500.")
STRICT_INPUT = ("Input Seldon accepts but cannot mean anything (data as a list, ndarray as a "
                "string, meta.tags as a list) gets a 400 naming the field.")
NON_FINITE = ("NaN and Infinity are not JSON: rejected with a 400 in requests, written as "
              "null in answers, so every answer parses.")
MEDIA_TYPE = ("A body in an unsupported Content-Type gets 415 Unsupported Media Type "
              "instead of 400.")
JSON_WITHOUT_CONTENT_TYPE = ("A JSON body sent without a Content-Type (as `curl -d` does) is "
                             "read as JSON instead of refused.")
TFTENSOR = ("tftensor is decoded and encoded without TensorFlow; Seldon answers 500 unless "
            "tensorflow is installed.")
USER_STATUS_CODE = ("A user exception with a status_code is answered with that status (and its "
                    "to_dict() body) without registering a Flask error-handler blueprint.")
OUTLIER_SCORES = ("OUTLIER_DETECTOR calls score() and adds meta.tags.outlierScore; Seldon "
                  "1.18's wrapper ignores score().")
CLEARER_ERRORS = ("Same status and reason, but the error info says precisely what is wrong "
                  "and how to fix it.")
REFUSES_TO_START = ("A class without the method its SERVICE_TYPE needs stops the server at start "
                    "with that reason; Seldon starts and answers defaults (see "
                    "cases.Deployment.refused_by_modelkiln).")
REASONS = (ROUTING, BAD_INPUT_IS_400, STRICT_INPUT, NON_FINITE, MEDIA_TYPE,
           JSON_WITHOUT_CONTENT_TYPE, TFTENSOR, USER_STATUS_CODE, OUTLIER_SCORES, CLEARER_ERRORS,
           REFUSES_TO_START)

INTENTIONAL_DIFFERENCES: Dict[str, Difference] = {
    "bare-v1-predictions-get": Difference(ROUTING, 405,
                    json={'status': {'code': -1, 'info': '/api/v1.0/predictions does not accept GET (allowed: POST)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-route": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Route not defined: this class has no route() or route_raw() method', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "seldon-style-stub-route": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Route not defined: this class has no route() or route_raw() method', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-aggregate": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Aggregate not defined: this class has no aggregate() or aggregate_raw() method', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-unknown-route": Difference(ROUTING, 404,
                    json={'status': {'code': -1, 'info': 'no route /no-such-route; see /seldon.json for the routes served', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-health-ping-post": Difference(ROUTING, 405,
                    json={'status': {'code': -1, 'info': '/health/ping does not accept POST (allowed: GET, HEAD)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-health-status-post": Difference(ROUTING, 405,
                    json={'status': {'code': -1, 'info': '/health/status does not accept POST (allowed: GET, HEAD)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-malformed-json": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'invalid JSON: unexpected end of data: line 1 column 26 (char 25)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-empty-body-json": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': "Can't find JSON in data: the body is empty and there is no json= parameter; POST a SeldonMessage as JSON", 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-no-body": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': "Can't find JSON in data: the body is empty and there is no json= parameter; POST a SeldonMessage as JSON", 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-text-plain": Difference(MEDIA_TYPE, 415,
                    json={'status': {'code': -1, 'info': "Content-Type 'text/plain' is not supported: send JSON (application/json), a json= form field or query parameter, or multipart/form-data", 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-json-no-content-type": Difference(JSON_WITHOUT_CONTENT_TYPE, 200,
                    json={'data': {'names': ['t:0', 't:1'], 'ndarray': [[1.0, 2.0], [3.0, 4.5]]}, 'meta': {}}),
    "bare-err-form-malformed": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': 'form field json: invalid JSON: unexpected character, expected a string key: line 1 column 2 (char 1)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-query-malformed": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': 'query parameter json: invalid JSON: unexpected character, expected a string key: line 1 column 2 (char 1)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-predict-jsondata-null": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Unknown data type returned as payload (must be list, numpy array, str, bytes or dict): None', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-json-list": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Invalid request data type: a SeldonMessage is a JSON object, got list [1, 2, 3]', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-json-string": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': "Invalid request data type: a SeldonMessage is a JSON object, got str 'hello'", 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-json-null": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Invalid request data type: a SeldonMessage is a JSON object, got NoneType None', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-empty-object": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Invalid request data type: the message has none of data, jsonData, strData, binData (keys: none)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-meta-only": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Invalid request data type: the message has none of data, jsonData, strData, binData (keys: meta)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-data-list": Difference(STRICT_INPUT, 400,
                    json={'status': {'code': -1, 'info': '"data" must be an object holding ndarray, tensor or tftensor', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-data-null": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': '"data" must be an object holding ndarray, tensor or tftensor', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-unknown-key": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Invalid request data type: the message has none of data, jsonData, strData, binData (keys: foo)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-strdata-not-string": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': '"strData" must be a string, got int', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-ndarray-not-list": Difference(STRICT_INPUT, 400,
                    json={'status': {'code': -1, 'info': 'data.ndarray must be a (nested) list, got str', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-bindata-not-base64": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': '"binData" is not valid base64: Invalid base64-encoded string: number of data characters (9) cannot be 1 more than a multiple of 4', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-tensor-bad-shape": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': 'data.tensor.values has 3 values, which does not fit shape [2, 2] (cannot reshape array of size 3 into shape (2,2))', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-tensor-no-values": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': 'data.tensor must be an object with "shape" and "values"', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-tensor-no-shape": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': 'data.tensor must be an object with "shape" and "values"', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-tftensor": Difference(TFTENSOR, 200,
                    json={'data': {'names': [], 'tftensor': {'dtype': 'DT_FLOAT', 'tensorContent': 'AACAPwAAAEA=', 'tensorShape': {'dim': [{'size': '2'}]}}}, 'meta': {}}),
    "bare-err-nan-input": Difference(NON_FINITE, 400,
                    json={'status': {'code': -1, 'info': 'invalid JSON: NaN and Infinity are not valid JSON numbers (unexpected character, expected a JSON value: line 1 column 24 (char 23))', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-non-utf8": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'request body is not valid UTF-8 (byte 13); JSON must be UTF-8 encoded', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-meta-not-object": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': '"meta" must be an object, got str', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-err-tags-not-object": Difference(STRICT_INPUT, 400,
                    json={'status': {'code': -1, 'info': '"meta.tags" must be an object, got [1]', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-multipart-unknown-field": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Invalid request data type: the message has none of data, jsonData, strData, binData (keys: foo)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bare-multipart-meta-not-json": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': "form field 'meta': invalid JSON: unexpected character, expected a string key: line 1 column 2 (char 1)", 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "doubler-ndarray-ragged": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': 'data.ndarray is ragged: every row must have the same length (setting an array element with a sequence. The requested array has an inhomogeneous shape after 1 dimensions. The detected shape was (2,) + inhomogeneous part.)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "odd-returns-none": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Unknown data type returned as payload (must be list, numpy array, str, bytes or dict): None', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "odd-returns-int": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Unknown data type returned as payload (must be list, numpy array, str, bytes or dict): 42', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "odd-returns-numpy-float": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Unknown data type returned as payload (must be list, numpy array, str, bytes or dict): np.float64(1.5)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "odd-returns-tuple": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Unknown data type returned as payload (must be list, numpy array, str, bytes or dict): (1, 2)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "odd-returns-nan": Difference(NON_FINITE, 200,
                    json={'data': {'names': ['t:0', 't:1', 't:2'], 'tensor': {'shape': [1, 3], 'values': [None, None, 1.0]}}, 'meta': {}}),
    "custom-error-no-handler": Difference(USER_STATUS_CODE, 429,
                    json={'status': {'code': 4290, 'info': 'quota exceeded', 'reason': 'USER_QUOTA', 'status': 1}}),
    "router-non-int": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': "Routing response must be int but got 'branch-left'", 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "router-strdata": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': "Routing response must be int but got 'branch-abc'", 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "combiner-err-empty-list": Difference(BAD_INPUT_IS_400, 400,
                    json={'status': {'code': -1, 'info': '/aggregate needs at least one message', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "combiner-err-object": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Invalid request data type: /aggregate takes a list of SeldonMessages or {"seldonMessages": [...]}, got {\'data\': {\'names\': [...], \'ndarray\': [...]}}', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "combiner-err-seldon-messages-not-list": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'Invalid request data type: /aggregate takes a list of SeldonMessages or {"seldonMessages": [...]}, got {\'seldonMessages\': {\'data\': {...}}}', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "outlier-transform-input": Difference(OUTLIER_SCORES, 200,
                    json={'data': {'names': ['t:0', 't:1'], 'ndarray': [[1.0, -2.0], [0.5, 0.5]]}, 'meta': {'puid': 'o1', 'tags': {'outlierScore': [3.0, 1.0]}}}),
    "feedback-err-unknown-field": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'feedback has unknown field(s) bogus; expected request, response, reward, truth', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "feedback-err-malformed": Difference(CLEARER_ERRORS, 400,
                    json={'status': {'code': -1, 'info': 'invalid JSON: unexpected end of data: line 1 column 2 (char 1)', 'reason': 'MICROSERVICE_BAD_DATA', 'status': 1}}),
    "bad-metadata-metadata": Difference(CLEARER_ERRORS, 500,
                    json={'status': {'code': -1, 'info': 'Model metadata unavailable: invalid model metadata: versions must be a list', 'reason': 'MICROSERVICE_BAD_METADATA', 'status': 1}}),

}
