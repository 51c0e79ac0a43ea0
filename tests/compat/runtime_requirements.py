"""Print the runtime's requirements from pyproject.toml, one per line, for ``make seldon-venv``.

tests/compat runs modelkiln's runtime from seldon-core's virtualenv, so that venv needs every
runtime dependency; its stamp depends on pyproject.toml, and this reads the list from there so
that a new dependency reaches the venv without a second edit. ``--except NAME`` leaves out a
package whose version seldon-core pins itself (prometheus-client: seldon-core 1.18 wants < 0.9,
and the runtime must keep working on what the oracle's venv holds).

    python3 tests/compat/runtime_requirements.py --except prometheus-client
"""

import argparse
import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def name_of(requirement):
    return re.split(r"[<>=!~;\[ ]", requirement, 1)[0].strip().lower().replace("_", "-")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--except", dest="skip", action="append", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    skip = {s.lower().replace("_", "-") for s in args.skip}
    with PYPROJECT.open("rb") as f:
        requirements = tomllib.load(f)["project"]["dependencies"]
    unknown = skip - {name_of(r) for r in requirements}
    if unknown:
        sys.exit("runtime_requirements.py: %s is not a runtime dependency in %s"
                 % (", ".join(sorted(unknown)), PYPROJECT))
    for requirement in requirements:
        if name_of(requirement) not in skip:
            print(requirement)


if __name__ == "__main__":
    main()
