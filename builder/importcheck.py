"""Build-time check that MODEL_NAME imports and has what its SERVICE_TYPE needs.

Runs with the app's interpreter: ``python -m builder.importcheck MODEL_NAME SERVICE_TYPE DIR``.
Only imports the class; it is not constructed (its __init__ may need model files or hardware).
"""

import sys

from python_runtime.component import check_service_type
from python_runtime.errors import LoadError
from python_runtime.loader import import_user_class


def main(argv: list) -> int:
    model_name, service_type, app_dir = argv
    try:
        cls = import_user_class(model_name, app_dir)
        check_service_type(cls, service_type)
    except LoadError as exc:
        print("ERROR: %s" % exc, file=sys.stderr, flush=True)
        return 1
    print("     %s.%s implements %s" % (cls.__module__, cls.__name__, service_type), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
