class RawPredict:
    """predict_raw sees the whole message dict and returns a message dict."""

    def predict_raw(self, msg):
        if isinstance(msg, dict) and "jsonData" in msg and "want_status" in msg["jsonData"]:
            code = msg["jsonData"]["want_status"]
            return {"status": {"code": code, "info": "asked for %d" % code, "status": 1, "reason": "USER_CHOSE"}}
        keys = sorted(msg) if isinstance(msg, dict) else [type(msg).__name__]
        return {
            "jsonData": {"keys": keys},
            "meta": {"tags": {"raw": True}},
        }

    def predict(self, X, features_names):  # never used: predict_raw wins
        return "predict called"
