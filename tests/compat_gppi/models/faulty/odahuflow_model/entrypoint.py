"""A GPPI entrypoint that fails, or answers oddly, as the first value of the first row asks:
exceptions with and without a message, answers that are not a (prediction, columns) pair, and
predictions JSON cannot hold (or holds only after a conversion)."""

import datetime
import uuid


class ModelError(Exception):
    def __str__(self):
        return "the model refused row %s (\u00e9\u2603)" % self.args[0]


def _raise(error):
    raise error


OPS = {
    "value-error": lambda rows: _raise(ValueError("x must be positive, got %r" % rows[0][1:])),
    "key-error": lambda rows: _raise(KeyError("weights")),
    "no-message": lambda rows: _raise(RuntimeError()),
    "custom": lambda rows: _raise(ModelError(len(rows))),
    "zero-division": lambda rows: ([[1 / 0]], ("r",)),
    "not-a-pair": lambda rows: [[1, 2]],
    "triple": lambda rows: ([[1]], ("r",), "extra"),
    "none": lambda rows: None,
    "dict": lambda rows: ({"score": 0.5, "labels": ["a"]}, ("score", "labels")),
    "string": lambda rows: ("ok", "r"),
    "columns-none": lambda rows: ([[1, 2]], None),
    "columns-list": lambda rows: ([[1, 2]], ["c0", "c1"]),
    "tuples": lambda rows: (((1, 2.0), (3, "x")), ("a", "b")),
    "nan": lambda rows: ([[float("nan"), float("inf"), -float("inf")]], ("a", "b", "c")),
    "datetime": lambda rows: ([[datetime.datetime(2020, 10, 1, 12, 30, 5)]], ("when",)),
    "date": lambda rows: ([[datetime.date(2020, 10, 1)]], ("day",)),
    "uuid": lambda rows: ([[uuid.UUID("12345678-1234-5678-1234-567812345678")]], ("id",)),
    "set": lambda rows: ({1}, ("r",)),
    "bytes": lambda rows: ([[b"raw"]], ("r",)),
    "big-int": lambda rows: ([[2 ** 64]], ("r",)),
    "int-keys": lambda rows: ({1: "a"}, ("r",)),
}


def init():
    return "matrix"


def predict_on_matrix(input_matrix, provided_columns_names=None):
    return OPS[input_matrix[0][0]](input_matrix)


def info():
    return ([{"name": "op", "type": "string", "required": True, "example": "value-error"}],
            [{"name": "r", "type": "number", "example": 1}])


def get_output_json_serializer():
    return None
