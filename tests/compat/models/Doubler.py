import numpy as np


class Doubler:
    """Numeric model: multiplies the input by two (ints stay ints).

    Non-numeric input raises a TypeError whose text does not depend on the numpy version
    (the oracle and modelkiln may run different numpy releases).
    """

    def predict(self, X, features_names):
        arr = np.asarray(X)
        if arr.dtype.kind not in "biuf":
            raise TypeError("Doubler needs numbers, got %s (dtype kind %s)" % (type(X).__name__, arr.dtype.kind))
        return arr * 2
