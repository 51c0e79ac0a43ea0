"""A PythonModel with a tensor signature, float64 (-1, 3): answers each row's weighted sum
(MLflow's models from code)."""

import mlflow.pyfunc
import numpy as np
from mlflow.models import set_model


class TensorModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return np.asarray(model_input) @ np.array([1.0, 10.0, 100.0])


set_model(TensorModel())
