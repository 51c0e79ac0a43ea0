"""Stand-ins for packages user code imports (see python_runtime/seldon_compat.py)."""
