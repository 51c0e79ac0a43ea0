"""Imported by the classifier with a relative import, so the package must load as a package."""

THRESHOLD = 10.0
