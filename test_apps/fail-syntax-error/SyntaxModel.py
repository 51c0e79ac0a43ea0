class SyntaxModel:
    def predict(self, X, features_names)
        return X
