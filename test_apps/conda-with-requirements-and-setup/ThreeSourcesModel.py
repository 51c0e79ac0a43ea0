"""kiln-tool comes from environment.yml, six from requirements.txt and tabulate from
setup.py's install_requires: the answer uses all three."""

import subprocess

import six
import tabulate as tabulate_module
from tabulate import tabulate


class ThreeSourcesModel(object):
    def predict(self, X, features_names=None):
        rows = [[int(v) for v in row] for row in X.tolist()]
        tool = subprocess.run(["kiln-tool", str(sum(sum(r) for r in rows))],
                              stdout=subprocess.PIPE, check=True)
        return {
            "tool": six.ensure_text(tool.stdout).strip(),
            "table": six.ensure_text(tabulate(rows, tablefmt="plain")),
            "six": six.__version__,
            "tabulate": tabulate_module.__version__,
        }
