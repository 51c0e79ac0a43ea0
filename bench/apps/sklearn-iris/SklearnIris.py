"""bench/images.py's scikit-learn app: a logistic regression fitted on the iris data that
scikit-learn ships, at load; predict_proba for the rows it gets."""

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


class SklearnIris(object):
    def load(self):
        data = load_iris()
        self.model = LogisticRegression(max_iter=500).fit(data.data, data.target)

    def predict(self, X, features_names=None):
        return self.model.predict_proba(X)
