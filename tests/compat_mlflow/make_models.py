"""Write the MLflow model folders the differential suite serves, with the oracle's own mlflow.

    .venv-mlflow/bin/python tests/compat_mlflow/make_models.py OUT_DIR [NAME ...]

Run by the suite at session start (conftest.py), into a temporary folder, with the oracle's
interpreter: each folder is what ``mlflow.sklearn.save_model`` / ``mlflow.pyfunc.save_model``
write (``MLmodel``, ``requirements.txt``, ``python_env.yaml``, ``conda.yaml``, the model), as a
data scientist's run hands it over. test_apps/mlflow-sklearn is the ``sklearn-iris`` folder
made by this script (``make mlflow-test-app`` writes it again).

- ``sklearn-iris``: a LogisticRegression on the iris data, with a column signature (four
  doubles) and an input example;
- ``pyfunc-params``: a PythonModel (models from code: ``models/params_model.py``) whose
  signature has columns of several types and params (double, long, string, boolean, a list);
- ``no-signature``: a PythonModel saved without a signature (nothing is enforced);
- ``tensor``: a PythonModel with a tensor signature (a float64 array of shape (-1, 3)).
"""

import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
CODE = os.path.join(HERE, "models")


def sklearn_iris(path):
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris()
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    X = pd.DataFrame(iris.data, columns=columns)
    model = LogisticRegression(max_iter=500, random_state=0).fit(X, iris.target)
    signature = infer_signature(X, model.predict(X))
    mlflow.sklearn.save_model(model, path, signature=signature, input_example=X.iloc[:2])


def pyfunc_params(path):
    import mlflow.pyfunc
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    signature = ModelSignature(
        inputs=Schema([ColSpec("double", "x"), ColSpec("long", "n"), ColSpec("string", "word"),
                       ColSpec("boolean", "flag", required=False)]),
        outputs=Schema([ColSpec("double", "y"), ColSpec("string", "label")]),
        params=ParamSchema([ParamSpec("scale", "double", 1.0), ParamSpec("offset", "long", 0),
                            ParamSpec("suffix", "string", ""), ParamSpec("upper", "boolean", False),
                            ParamSpec("weights", "double", [1.0, 2.0], (-1,))]))
    mlflow.pyfunc.save_model(path, python_model=os.path.join(CODE, "params_model.py"),
                             signature=signature, pip_requirements=["pandas"])


def no_signature(path):
    import mlflow.pyfunc

    mlflow.pyfunc.save_model(path, python_model=os.path.join(CODE, "echo_model.py"),
                             pip_requirements=["pandas"])


def tensor(path):
    import mlflow.pyfunc
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("float64"), (-1, 3))]),
                               outputs=Schema([TensorSpec(np.dtype("float64"), (-1,))]))
    mlflow.pyfunc.save_model(path, python_model=os.path.join(CODE, "tensor_model.py"),
                             signature=signature, pip_requirements=["numpy"])


MODELS = {"sklearn-iris": sklearn_iris, "pyfunc-params": pyfunc_params,
          "no-signature": no_signature, "tensor": tensor}


def main(argv):
    out, names = argv[0], argv[1:] or sorted(MODELS)
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_TRACKING_URI", "file://" + os.path.join(out, ".mlruns"))
    for name in names:
        path = os.path.join(out, name)
        if os.path.exists(os.path.join(path, "MLmodel")):
            continue
        MODELS[name](path)
        print("wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
