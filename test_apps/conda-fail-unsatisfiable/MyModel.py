class MyModel(object):
    def predict(self, X, features_names=None):
        return X
