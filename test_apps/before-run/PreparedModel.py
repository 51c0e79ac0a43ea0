"""load() reads the file the app's before-run hook wrote; predict reports its content."""

BEFORE_RUN_OUTPUT = "/tmp/modelkiln-before-run.txt"


class PreparedModel(object):
    def __init__(self):
        self.prepared = None

    def load(self):
        with open(BEFORE_RUN_OUTPUT) as handle:  # missing file: load fails, never ready
            self.prepared = handle.read().strip()

    def predict(self, X, features_names=None):
        return {"before_run": self.prepared, "input": X}
