"""``python -m python_runtime.jobs predict|info``: what ``s2i/bin/run`` runs for a job."""

import sys

from .predict import main

sys.exit(main())
