"""A PythonModel with params (MLflow's models from code: make_models.py saves this file)."""

import mlflow.pyfunc
import pandas as pd
from mlflow.models import set_model


class ParamsModel(mlflow.pyfunc.PythonModel):
    """y = x * scale * sum(weights) + n + offset; label = word + suffix (upper-cased if asked)."""

    def predict(self, context, model_input, params=None):
        params = params or {}
        factor = params.get("scale", 1.0) * sum(params.get("weights", [1.0, 2.0]))
        labels = model_input["word"].astype(str) + params.get("suffix", "")
        if params.get("upper"):
            labels = labels.str.upper()
        return pd.DataFrame({"y": model_input["x"] * factor + model_input["n"]
                             + params.get("offset", 0), "label": labels})


set_model(ParamsModel())
