"""Test packages mirror the code packages; this file makes them ``tests.python_runtime`` etc.,
so they never shadow the real ``python_runtime`` and ``builder`` packages (pytest 7.0 on
Python 3.6 imports ``tests/python_runtime`` as ``python_runtime`` without it)."""
