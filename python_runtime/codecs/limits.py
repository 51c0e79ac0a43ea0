"""Limits every decoder applies, set once per process from the settings (``configure``).

A request cannot make the server build more than ``max_elements`` elements in one tensor,
whatever its shape says, nor expand a few bytes into more than ``max_bytes`` (a tftensor's
lone value standing for every element), nor send more than ``max_form_parts`` multipart
parts."""

from typing import Any

from ..errors import BadDataError, PayloadTooLarge


class Limits(object):
    max_elements = 1 << 27
    max_bytes = 100 << 20
    max_form_parts = 1000


LIMITS = Limits()


def configure(settings: Any) -> None:
    LIMITS.max_elements = settings.max_elements
    LIMITS.max_bytes = settings.max_request_size
    LIMITS.max_form_parts = settings.max_form_parts


def check_elements(count: int, what: str, *args: Any) -> None:
    """400 when a tensor would have too many elements; ``what % args`` names it (formatted
    only then: this runs on every request)."""
    if count > LIMITS.max_elements:
        raise BadDataError("%s has %d elements, more than the limit of %d "
                           "(MODELKILN_MAX_ELEMENTS)" % (what % args, count, LIMITS.max_elements))


def check_expanded(size: int, what: str, *args: Any) -> None:
    if size > LIMITS.max_bytes:
        raise PayloadTooLarge("%s would fill %d bytes, more than the limit of %d "
                              "(MODELKILN_MAX_REQUEST_SIZE): send every value"
                              % (what % args, size, LIMITS.max_bytes))
