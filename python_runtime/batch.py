"""``python -m python_runtime.batch``: kept for scripts and manifests written before the
command moved to ``jobs/batch.py`` (``modelkiln batch`` and ``s2i/bin/run batch`` run that)."""

import sys

from .jobs.batch import main

if __name__ == "__main__":
    sys.exit(main())
