"""tabulate comes from the pip: section of environment.yml, the values from the conda
package kiln-data (pinned to 1.0.0)."""

import json
import os

import tabulate as tabulate_module
from tabulate import tabulate


class PipSectionModel(object):
    def predict(self, X, features_names=None):
        path = os.path.join(os.environ["CONDA_PREFIX"], "share", "kiln", "values.json")
        with open(path) as handle:
            values = json.load(handle)
        rows = [[int(v) for v in row] for row in X.tolist()]
        rows.append(values["offsets"])
        return {
            "table": tabulate(rows, tablefmt="plain"),
            "tabulate": tabulate_module.__version__,
            "data_version": values["version"],
            "data_label": values["label"],
        }
