"""A raw model answering the request as it came, meta.metrics included: the client names the
custom metrics."""


class MetricsEcho(object):
    def predict_raw(self, request):
        return request
