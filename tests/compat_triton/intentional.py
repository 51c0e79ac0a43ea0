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
