"""Answers where modelkiln differs from tritonserver on purpose, by case name, and why.

Each entry: (why, how modelkiln answers it: the status it must give)."""

INTENTIONAL = {
    "server-metadata": ("GET /v2 names the server that answers: modelkiln, its version and the "
                        "extensions it has (binary_tensor_data, model_configuration, "
                        "parameters), not triton 2.51.0's list", 200),
    "scale-malformed-json": ("a body that is not JSON: Triton answers 500 with RapidJSON's "
                             "words; modelkiln 400 (the client's mistake) with its parser's",
                             400),
    "scale-data-count-mismatch": ("data that does not fill the shape: Triton answers 500 "
                                  "\"Unable to parse 'data': ...\"; modelkiln 400 naming the "
                                  "input and the counts", 400),
    "nobatch-fraction-for-int32": ("a number with a fraction for INT32: Triton answers 500 "
                                   "\"Unable to parse 'data': ...\"; modelkiln 400 naming the "
                                   "input and the type", 400),
}

# The generate extension (test_stream.py): bodies Triton cannot read answer 500 with RapidJSON's
# or its schema's words; modelkiln answers them 400 (the client's mistake), as for infer above.
GENERATE_BAD_BODY = {
    "not-json": "a body that is not JSON",
    "empty-body": "an empty body",
    "not-an-object": "a JSON body that is not an object (Triton: \"attempt to get members for "
                     "non-object\")",
    "number-for-bytes": "a number for a BYTES input (Triton: \"Unable to parse JSON bytes "
                        "array: ...\")",
    "number-id": "an id that is not a string (Triton: \"Unable to parse 'id': ...\")",
    "parameters-not-an-object": "parameters that are not an object (Triton: \"Expected JSON "
                                "object for keyword: 'parameters': ...\")",
}
for _what, _why in GENERATE_BAD_BODY.items():
    for _case, _path in (("generate-words-stream", "/v2/models/words/generate_stream"),
                         ("generate-text", "/v2/models/text/generate")):
        INTENTIONAL["%s-%s" % (_case, _what)] = (
            "%s to POST %s: Triton answers 500, modelkiln 400 (the client's mistake) with its "
            "parser's words" % (_why, _path), 400)
