"""Reports which interpreter serves it and where the runtime's libraries come from."""

import json
import os
import sys

import numpy


class PythonReport(object):
    def predict(self, X, features_names=None):
        prefix = os.environ["CONDA_PREFIX"]
        with open(os.path.join(prefix, "share", "kiln", "values.json")) as handle:
            values = json.load(handle)
        image_runtime = os.path.realpath(numpy.__file__).startswith("/opt/modelkiln/")
        return {
            "version": sys.version.split()[0],
            "prefix": sys.prefix,
            "executable_in_env": os.path.realpath(sys.executable).startswith(
                os.path.realpath(prefix) + os.sep),
            "numpy": numpy.__version__,
            "numpy_from": "image" if image_runtime else "environment",
            "data_version": values["version"],
            "sum": float(X.sum()),
        }
