"""modelkiln's stand-in for the ``seldon_core`` package (see python_runtime/model/seldon_compat.py):
only ``user_model`` and ``flask_utils``, used when seldon-core itself is not installed."""

__modelkiln_fallback__ = True
