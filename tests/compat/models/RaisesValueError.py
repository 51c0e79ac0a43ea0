class RaisesValueError:
    def predict(self, X, features_names):
        raise ValueError("model cannot handle this input")
