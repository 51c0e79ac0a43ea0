"""Built twice by tests/images/test_conda.py, the second time with --incremental: the conda
packages restored from the first image must still work."""

import ctypes
import json
import os
import subprocess


class IncrementalCondaModel(object):
    def predict(self, X, features_names=None):
        x = float(X[0][0])
        with open(os.path.join(os.environ["CONDA_PREFIX"], "share/kiln/values.json")) as handle:
            values = json.load(handle)
        lib = ctypes.CDLL("libkiln.so")
        lib.kiln_scale.restype = ctypes.c_double
        lib.kiln_scale.argtypes = [ctypes.c_double]
        tool = subprocess.run(["kiln-tool", str(int(x))], stdout=subprocess.PIPE, check=True)
        return {
            "kiln_scale": lib.kiln_scale(x),
            "tool": tool.stdout.decode().strip(),
            "data_version": values["version"],
        }
