class MetaAware:
    """predict accepts meta= and reports what it saw."""

    def predict(self, X, features_names, meta=None):
        return {"meta": meta, "names": list(features_names) if features_names is not None else None}
