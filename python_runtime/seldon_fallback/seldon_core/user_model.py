"""``seldon_core.user_model`` for user code: the ``SeldonComponent`` base class, whose methods
are placeholders the server treats as absent, ``SeldonResponse`` (data with per-request tags and
metrics) and ``SeldonNotImplementedError``."""

from seldon_core.flask_utils import SeldonMicroserviceException

__all__ = ["SeldonComponent", "SeldonResponse", "SeldonNotImplementedError",
           "SeldonMicroserviceException"]


class SeldonNotImplementedError(SeldonMicroserviceException):
    status_code = 400

    def __init__(self, message):
        SeldonMicroserviceException.__init__(self, message)


class SeldonResponse(object):
    """What a user method returns to add tags and metrics to one answer."""

    def __init__(self, data, tags=None, metrics=None):
        self.data = data
        self.tags = tags if tags is not None else {}
        self.metrics = metrics if metrics is not None else []

    @classmethod
    def create(cls, data):
        return data if isinstance(data, cls) else cls(data=data)


def _placeholder(name, what=None):
    def method(self, *args, **kwargs):
        raise SeldonNotImplementedError("%s is not implemented" % (what or name))
    method.__name__ = name
    method.__qualname__ = "SeldonComponent." + name
    return method


class SeldonComponent(object):
    """Base class for user models. A subclass overrides the methods it has; the server calls
    only those (these placeholders, defined in this module, count as not implemented)."""

    def __init__(self, **kwargs):
        pass

    def load(self):
        pass

    tags = _placeholder("tags")
    class_names = _placeholder("class_names")
    metrics = _placeholder("metrics")
    feature_names = _placeholder("feature_names")
    predict = _placeholder("predict")
    predict_raw = _placeholder("predict_raw")
    transform_input = _placeholder("transform_input")
    transform_input_raw = _placeholder("transform_input_raw")
    transform_output = _placeholder("transform_output")
    transform_output_raw = _placeholder("transform_output_raw")
    send_feedback = _placeholder("send_feedback")
    send_feedback_raw = _placeholder("send_feedback_raw")
    route = _placeholder("route")
    route_raw = _placeholder("route_raw")
    aggregate = _placeholder("aggregate")
    aggregate_raw = _placeholder("aggregate_raw")
    health_status = _placeholder("health_status", "health")
    health_status_raw = _placeholder("health_status_raw", "health_raw")
    metadata = _placeholder("metadata")
    init_metadata = _placeholder("init_metadata")
