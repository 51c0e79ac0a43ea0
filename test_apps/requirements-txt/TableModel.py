"""Renders the request as a text table with tabulate, installed from requirements.txt."""

import tabulate as tabulate_module
from tabulate import tabulate


class TableModel(object):
    def predict(self, X, features_names=None):
        rows = X.tolist()
        headers = list(features_names or [])
        if len(headers) != len(rows[0]):
            headers = ["c%d" % i for i in range(len(rows[0]))]
        return {
            "table": tabulate(rows, headers=headers, tablefmt="plain"),
            "tabulate": tabulate_module.__version__,
        }
