"""Uses all three kinds of conda payload, found only through the activated environment:
a data file under $CONDA_PREFIX, a command-line tool on PATH and a shared library through
the dynamic loader (LD_LIBRARY_PATH)."""

import ctypes
import json
import os
import shutil
import subprocess
import sys


class CondaToolModel(object):
    def predict(self, X, features_names=None):
        prefix = os.environ["CONDA_PREFIX"]
        with open(os.path.join(prefix, "share", "kiln", "values.json")) as handle:
            values = json.load(handle)
        n = int(X[0][0])
        tool = subprocess.run(["kiln-tool", str(n)], stdout=subprocess.PIPE, check=True)
        lib = ctypes.CDLL("libkiln.so")
        lib.kiln_scale.restype = ctypes.c_double
        lib.kiln_scale.argtypes = [ctypes.c_double]
        lib.kiln_version.restype = ctypes.c_char_p
        return {
            "data_version": values["version"],
            "data_label": values["label"],
            "scaled_offsets": [values["scale"] * o for o in values["offsets"]],
            "tool": tool.stdout.decode().strip(),
            "kiln_scale": lib.kiln_scale(float(X[0][1])),
            "libkiln": lib.kiln_version().decode(),
            "env_name": os.environ.get("CONDA_DEFAULT_ENV"),
            "tool_in_env": shutil.which("kiln-tool") == os.path.join(prefix, "bin", "kiln-tool"),
            "lib_path_first": os.environ.get("LD_LIBRARY_PATH", "").split(":")[0]
            == os.path.join(prefix, "lib"),
            "python_from_env": os.path.realpath(sys.executable).startswith(
                os.path.realpath(prefix) + os.sep),
        }
