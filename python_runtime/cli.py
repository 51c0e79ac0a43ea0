"""``modelkiln serve`` / ``python -m python_runtime``: parse settings, serve, exit cleanly."""

import sys
from typing import List, Optional

from .errors import LoadError
from .settings import Settings, SettingsError


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        args = args[1:]
    try:
        settings = Settings.load(args)
        from .server import serve  # imports gunicorn/numpy only when serving

        return serve(settings)
    except SettingsError as exc:
        sys.stderr.write("ERROR: %s\n" % exc)
        return 2
    except LoadError as exc:
        sys.stderr.write("ERROR: %s\n" % exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
