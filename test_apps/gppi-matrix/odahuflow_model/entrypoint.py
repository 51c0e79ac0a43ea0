"""A GPPI entrypoint as ODAHU's toolchains write them: linear class scores for flower
measurements. The weights are read from MODEL_LOCATION (the work dir), as ODAHU's MLflow
entrypoints find their model."""

import json
import os

import numpy

MODEL = {}


def init():
    with open(os.path.join(os.environ["MODEL_LOCATION"], "weights.json")) as handle:
        MODEL.update(json.load(handle))
    return "matrix"


def predict_on_matrix(input_matrix, provided_columns_names=None):
    columns = MODEL["columns"]
    rows = numpy.asarray(input_matrix, dtype=float)
    if provided_columns_names:
        missing = [c for c in columns if c not in provided_columns_names]
        if missing:
            raise ValueError("missing column(s): %s" % ", ".join(missing))
        rows = rows[:, [list(provided_columns_names).index(c) for c in columns]]
    scores = rows @ numpy.asarray(MODEL["weights"]).T + numpy.asarray(MODEL["bias"])
    return scores.round(3), tuple(MODEL["classes"])


def info():
    inputs = [{"name": c, "type": "number", "required": True, "example": 1.0}
              for c in ("sepal_length", "sepal_width", "petal_length", "petal_width")]
    outputs = [{"name": c, "type": "number", "example": 0.5}
               for c in ("setosa", "versicolor", "virginica")]
    return inputs, outputs


def get_output_json_serializer():
    return None
