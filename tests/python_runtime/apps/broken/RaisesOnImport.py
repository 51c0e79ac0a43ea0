"""Raises while being imported."""

raise RuntimeError("RaisesOnImport refuses to import: missing secret sauce")
