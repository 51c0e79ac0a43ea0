"""A tiny helper package that exists on no public index (modelkiln image tests only)."""

__version__ = "0.1.0"


def scale(x):
    """Triple ``x`` (a number, or anything that supports ``* 3``, such as a numpy array)."""
    return x * 3
