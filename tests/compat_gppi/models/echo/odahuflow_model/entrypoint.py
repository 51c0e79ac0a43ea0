"""A GPPI entrypoint that answers what it was given: the matrix as the prediction and the
column names as the columns (null when none came), so that every detail of how a server
reads a request body reaches the answer."""


def init():
    return "matrix"


def predict_on_matrix(input_matrix, provided_columns_names=None):
    return input_matrix, provided_columns_names


def info():
    # An entry without "example" has none in the document: info() is ODAHU's to read as is.
    return ([{"name": "x", "type": "number", "example": 0},
             {"name": "y", "type": "string", "example": "\u00e9\u2603"},
             {"name": "z", "type": "boolean", "example": None}],
            [{"name": "x", "type": "number", "example": 0}])


def get_output_json_serializer():
    return None
