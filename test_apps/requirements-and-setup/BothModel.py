"""Needs six (from requirements.txt) and tabulate (from setup.py): both must be installed."""

import six
import tabulate as tabulate_module
from tabulate import tabulate


class BothModel(object):
    def predict(self, X, features_names=None):
        rows = [[int(v) for v in row] for row in X.tolist()]
        table = tabulate(rows, tablefmt="plain")
        return {
            "table": six.ensure_text(table),
            "six": six.__version__,
            "tabulate": tabulate_module.__version__,
        }
