"""The Seldon class format: MODEL_NAME names a class (``Module`` or ``pkg.mod.Class``) with
Seldon's methods (predict, route, transform_input, ...), as Seldon Core's Python wrapper
serves it."""

from typing import Any, Dict, Tuple

from ...settings import Settings
from ..component import check_service_type
from ..loader import import_user_class, parse_parameters

NAME = "seldon"
MARKERS = "MODEL_NAME names the class"


def recognises(folder: str) -> bool:
    return False  # only MODEL_NAME says a folder is a Seldon-class folder


def prepare(settings: Settings) -> Settings:
    return settings


def user_class(settings: Settings) -> Tuple[Any, Dict[str, Any]]:
    """Import the class, check it fits SERVICE_TYPE and read its parameters."""
    cls = import_user_class(settings.model_name, settings.app_dir)
    check_service_type(cls, settings.service_type)
    return cls, parse_parameters(settings.parameters)
