"""A GPPI entrypoint answering numpy arrays, as models made by ODAHU's MLflow toolchain do.

The first value of the first row names the kind of answer (the rest of the row is ignored):
dtypes orjson writes itself (float64, int64, float32, bool...) and ones it refuses (strings,
objects, float16 in older releases, an array that is not C-contiguous, a 0-d array, complex),
for which ODAHU's handler falls back to tolist(); numpy scalars in a list; a NaN."""

import json

import numpy as np

KINDS = {
    "float64": lambda: np.array([[0.5, 1.25], [-2.0, 1e-7]]),
    "int64": lambda: np.array([[1, 2], [3, -4]], dtype=np.int64),
    "int32": lambda: np.array([[1, 2]], dtype=np.int32),
    "uint8": lambda: np.array([[0, 255]], dtype=np.uint8),
    "float32": lambda: np.array([[0.1, 2.5]], dtype=np.float32),
    "float16": lambda: np.array([[1.5, 0.1]], dtype=np.float16),
    "bool": lambda: np.array([[True, False]]),
    "vector": lambda: np.arange(3, dtype=np.float64),
    "str": lambda: np.array([["a", "bc"]]),
    "object": lambda: np.array([[1, "x"]], dtype=object),
    "fortran": lambda: np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
    "transposed": lambda: np.arange(6, dtype=np.int64).reshape(2, 3).T,
    "zero-d": lambda: np.array(3.5),
    "nan": lambda: np.array([[np.nan, np.inf, 1.0]]),
    "scalars": lambda: [[np.float64(1.5), np.int64(2), np.bool_(True)]],
    "datetime64": lambda: np.array(["2020-10-01", "2021-01-31"], dtype="datetime64[D]"),
    "complex": lambda: np.array([[1 + 2j]]),
    "empty": lambda: np.zeros((0, 2)),
}


def init():
    return "matrix"


def predict_on_matrix(input_matrix, provided_columns_names=None):
    kind = input_matrix[0][0]
    return KINDS[kind](), ("p0", "p1")


def info():
    return ([{"name": "kind", "type": "string", "required": True, "example": "float64"}],
            [{"name": "p0", "type": "number", "example": 0.5},
             {"name": "p1", "type": "number", "example": 1.25}])


class NumpyEncoder(json.JSONEncoder):
    """What ODAHU's docker-cli image writes results.json with (json.dump(..., cls=this))."""

    def default(self, o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, complex):
            return [o.real, o.imag]
        return json.JSONEncoder.default(self, o)


def get_output_json_serializer():
    return NumpyEncoder
