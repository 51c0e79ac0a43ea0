"""A GPPI entrypoint over a small table: columns a, b (numbers, or strings to join) and label.

Each row answers (a + b, label upper-cased, a * 2). Column names, when given, pick the columns
by name (so another order works, extra columns are ignored and a missing one raises); without
them the rows are read as (a, b, label). Python's own errors are the answer to wrong types.
"""

COLUMNS = ("a", "b", "label")
OUTPUT = ("total", "shout", "double")


def init():
    return "matrix"


def predict_on_matrix(input_matrix, provided_columns_names=None):
    if provided_columns_names is not None:
        where = [provided_columns_names.index(name) for name in COLUMNS]
        input_matrix = [[row[i] for i in where] for row in input_matrix]
    answer = []
    for row in input_matrix:
        a, b, label = row[0], row[1], row[2]
        answer.append([a + b, label.upper(), a * 2])
    return answer, OUTPUT


def info():
    input_schema = [
        {"name": "a", "type": "number", "required": True, "example": 1.5},
        {"name": "b", "type": "integer", "required": True, "example": 2},
        {"name": "label", "type": "string", "example": "setosa"},
    ]
    output_schema = [
        {"name": "total", "type": "number", "required": True, "example": 3.5},
        {"name": "shout", "type": "string", "example": "SETOSA"},
        {"name": "double", "type": "number", "example": 3.0},
    ]
    return input_schema, output_schema


def get_output_json_serializer():
    return None
