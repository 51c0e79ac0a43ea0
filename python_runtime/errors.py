"""The runtime's one error hierarchy.

Request-time errors know their HTTP status and Seldon reason; ``error_body`` renders them as
``{"status": {"status": 1, "info": ..., "code": -1, "reason": ...}}`` (Seldon's shape).
Load-time errors (``LoadError`` and subclasses) stop the server or the build with a message
that says what to fix.
"""

import reprlib
from typing import Any, Dict, Iterable, Optional

BAD_DATA = "MICROSERVICE_BAD_DATA"
INTERNAL = "MICROSERVICE_INTERNAL_ERROR"
BAD_METRIC = "MICROSERVICE_BAD_METRIC"
BAD_METADATA = "MICROSERVICE_BAD_METADATA"
BAD_PARAMETER = "MICROSERVICE_BAD_PARAMETER"
NOT_READY = "MICROSERVICE_NOT_READY"
OVERLOADED = "MICROSERVICE_OVERLOADED"


class MicroserviceError(Exception):
    """An error answered to the client with ``status_code`` and ``reason``."""

    status_code = 400
    reason = BAD_DATA

    def __init__(self, message: str, status_code: Optional[int] = None,
                 reason: Optional[str] = None) -> None:
        super(MicroserviceError, self).__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if reason is not None:
            self.reason = reason

    #: A body the user's exception chose itself (its ``to_dict()``), sent instead of ours.
    custom_body = None  # type: Optional[Dict[str, Any]]
    #: The gRPC status code name when it is not the one its HTTP status maps to.
    grpc_code = None  # type: Optional[str]

    def to_body(self) -> Dict[str, Any]:
        if self.custom_body is not None:
            return self.custom_body
        return error_body(self.message, self.reason)


class BadDataError(MicroserviceError):
    """The request cannot be decoded or does not fit what the route needs (400)."""


class PayloadTooLarge(MicroserviceError):
    status_code = 413


class UnsupportedMediaType(MicroserviceError):
    status_code = 415


class RouteNotFound(MicroserviceError):
    status_code = 404


class MethodNotAllowed(MicroserviceError):
    status_code = 405

    def __init__(self, message: str, allowed: str) -> None:
        super(MethodNotAllowed, self).__init__(message)
        self.allowed = allowed


class NotImplementedByModel(MicroserviceError):
    """The route needs a method the user class does not define (400, as Seldon answers;
    UNIMPLEMENTED over gRPC)."""

    grpc_code = "UNIMPLEMENTED"


class NotReady(MicroserviceError):
    """load() has not finished, or failed (503)."""

    status_code = 503
    reason = NOT_READY


class Overloaded(MicroserviceError):
    """The worker cannot take this request now (its memory budget is spent): 503 with
    Retry-After (gRPC: RESOURCE_EXHAUSTED). The client may try again shortly."""

    status_code = 503
    reason = OVERLOADED
    grpc_code = "RESOURCE_EXHAUSTED"
    retry_after = 1


class InternalError(MicroserviceError):
    status_code = 500
    reason = INTERNAL


class BadMetricError(MicroserviceError):
    status_code = 500
    reason = BAD_METRIC


class BadMetadataError(MicroserviceError):
    status_code = 500
    reason = BAD_METADATA


# An error message names what the client sent, but never all of it: a request with 100k keys
# or a 1 MB name still gets an answer of a few hundred bytes.
SHOWN_ITEMS = 5    # items an error lists before "... and N more"
SHOWN_CHARS = 60   # characters it shows of one name or value
SHOWN_TEXT = 200   # characters it shows of a library's message about the input


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters (without
    building the whole repr of a huge value)."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = short.maxlong = limit
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = SHOWN_ITEMS
    short.maxlevel = 2
    return short.repr(value)


def clipped(text: Any, limit: int = SHOWN_TEXT) -> str:
    """``str(text)`` cut to ``limit`` characters (an exception's message that quotes input)."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def few(items: Iterable[Any], limit: int = SHOWN_ITEMS, quote: bool = False) -> str:
    """The first ``limit`` of ``items`` (each cut short, ``repr``-quoted with ``quote``),
    then "... and N more"."""
    items = list(items)
    show = shown if quote else (lambda item: clipped(item, SHOWN_CHARS))
    text = ", ".join(show(item) for item in items[:limit])
    if len(items) > limit:
        text += " ... and %d more" % (len(items) - limit)
    return text


def error_body(message: str, reason: str) -> Dict[str, Any]:
    return {"status": {"status": 1, "info": message, "code": -1, "reason": reason}}


def from_user_exception(exc: BaseException) -> MicroserviceError:
    """Map an exception raised by user code to the answer the client gets.

    An exception carrying an integer ``status_code`` (Seldon's SeldonMicroserviceException
    and look-alikes) keeps its status, message and reason, and its ``to_dict()`` body when it
    has one (what Seldon's ``model_error_handler`` blueprints send); anything else is a 500.
    """
    if isinstance(exc, MicroserviceError):
        return exc
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        message = getattr(exc, "message", None)
        reason = getattr(exc, "reason", None)
        error = MicroserviceError(
            message if isinstance(message, str) else str(exc),
            status_code=status,
            reason=reason if isinstance(reason, str) else BAD_DATA,
        )
        to_dict = getattr(exc, "to_dict", None)
        if callable(to_dict):
            try:
                body = to_dict()
            except Exception:  # a broken to_dict must not hide the original error
                body = None
            if isinstance(body, dict):
                error.custom_body = body
        return error
    return InternalError(str(exc) or type(exc).__name__)


def as_error(exc: BaseException) -> MicroserviceError:
    """``exc`` as the error a client is answered with."""
    return exc if isinstance(exc, MicroserviceError) else from_user_exception(exc)


class LoadError(Exception):
    """The user class cannot be loaded; the message says why and what to do."""


class ModuleNotFound(LoadError):
    pass


class ModuleImportFailed(LoadError):
    """The user's module exists but raised while importing; carries its traceback text."""

    def __init__(self, message: str, traceback_text: str) -> None:
        super(ModuleImportFailed, self).__init__(message)
        self.traceback_text = traceback_text


class ClassNotFound(LoadError):
    pass


class MethodMissing(LoadError):
    pass


class BadParameters(LoadError):
    pass


class ConstructorFailed(LoadError):
    def __init__(self, message: str, traceback_text: str) -> None:
        super(ConstructorFailed, self).__init__(message)
        self.traceback_text = traceback_text
