"""Uses kilnhelper, which only the test's private index (PIP_INDEX_URL) serves."""

import kilnhelper


class HelperModel(object):
    def predict(self, X, features_names=None):
        return kilnhelper.scale(X)

    def tags(self):
        return {"kilnhelper": kilnhelper.__version__}
