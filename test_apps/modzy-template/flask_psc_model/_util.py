import os
from collections import Mapping  # gone from collections in Python 3.10


def listify(value, scalars=(bytes, str, Mapping)):
    """A list of ``value``'s items, or ``[value]`` for a scalar."""
    if isinstance(value, scalars):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


def same_path(one, other):
    return os.path.realpath(one) == os.path.realpath(other)
