"""This folder's own flask_psc_model, as a template copy ships it: the Flask implementation of
the container specification. It is written for Python 3.6-3.8 and fails to import on Python
>= 3.10 (collections.Mapping) and without python-box; modelkiln serves the folder with its own
flask_psc_model instead, so this package is never imported."""

from ._util import listify
from ._metadata import load_metadata

__all__ = ['listify', 'load_metadata']
__version__ = '0.6.5'
