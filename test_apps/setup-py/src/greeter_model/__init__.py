"""A model packaged with setup.py (src layout)."""

__version__ = "1.4.2"
