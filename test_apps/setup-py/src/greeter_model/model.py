"""Greets the name sent as strData; uses six, declared in setup.py's install_requires."""

import os

import six

from . import __version__


class GreeterModel(object):
    def predict(self, X, features_names=None):
        name = six.ensure_text(X).strip() if isinstance(X, (six.text_type, bytes)) else str(X)
        return {
            "greeting": "hello %s" % name,
            "package_version": __version__,
            "six": six.__version__,
            # True when the class came from the installed copy (pip install . ran)
            "installed": "site-packages" in os.path.abspath(__file__),
        }
