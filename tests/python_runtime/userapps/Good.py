class Good(object):
    def __init__(self, scale=1, label="x", flag=False, ratio=0.5):
        self.scale = scale
        self.label = label
        self.flag = flag
        self.ratio = ratio

    def predict(self, X, features_names=None):
        return X * self.scale
