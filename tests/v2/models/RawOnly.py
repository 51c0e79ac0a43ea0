"""Only predict_v2_raw (no predict): answers its first input unchanged as output "same"."""


class RawOnly(object):
    def predict_v2_raw(self, request):
        return {"outputs": [{"name": "same", "data": request["inputs"][0]["data"]}]}
