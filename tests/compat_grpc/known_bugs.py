"""Cases that fail because of a modelkiln bug found by this suite (not intentional).

Each maps a case id to what is wrong; a failing case shows this text with the diff. When the
server is fixed the case passes, or, if the fixed answer still differs from seldon's on
purpose, gets an ``intentional.py`` entry; either way remove it from here. None is open.
"""

from typing import Dict

KNOWN_BUGS: Dict[str, str] = {}
