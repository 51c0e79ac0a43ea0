"""Stand-ins for packages user code imports (see python_runtime/model/seldon_compat.py)."""
