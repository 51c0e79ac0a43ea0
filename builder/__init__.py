"""Build-time logic (inside the builder image) and host-side commands (``modelkiln``).

``builder`` may import ``python_runtime``; never the other way round.
"""
