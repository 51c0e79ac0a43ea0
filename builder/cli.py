"""The ``modelkiln`` command: ``serve`` runs a model locally; build commands join it later."""

import sys
from typing import List, Optional

USAGE = """usage: modelkiln COMMAND [options]

commands:
  serve MODEL_NAME|APP_DIR [options]   serve a model class as a REST microservice
                                       (modelkiln serve --help for the options)
"""


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "serve":
        from python_runtime.cli import main as serve_main

        return serve_main(rest)
    sys.stderr.write("modelkiln: unknown command %r\n%s" % (command, USAGE))
    return 2


if __name__ == "__main__":
    sys.exit(main())
