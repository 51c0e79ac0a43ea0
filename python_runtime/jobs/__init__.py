"""File jobs: score files of inputs and write files of answers, without a server.

- ``predict``: ``python -m python_runtime.jobs predict|info`` (``modelkiln predict``), the
  model loaded in this process; ``batch``: ``modelkiln batch``, the same formats sent to a
  running server.
- ``inputs``: reading and checking input files (CSV, JSON lines, Parquet...) in chunks;
  ``outputs``: writing answers so that an interrupted job resumes byte-identically, and the
  lock that keeps two jobs off one output.

May import every other part of the runtime (``transport.http`` builds the app a job calls
in-process); nothing imports ``jobs``.
"""
