"""Build-time check that MODEL_NAME imports and has what its SERVICE_TYPE needs.

Runs with the app's interpreter: ``python -m builder.importcheck MODEL_NAME SERVICE_TYPE DIR``,
or ``--format NAME DIR`` for a model folder of another system (``python_runtime.model.formats``).
Only imports the class; it is not constructed (its __init__ may need model files or hardware).
"""

import sys

from python_runtime.model.component import check_service_type
from python_runtime.errors import LoadError, ModuleImportFailed
from python_runtime.model.loader import import_user_class


# Exit codes: 1 the import itself failed (maybe for want of hardware or files the build lacks:
# DISABLE_IMPORT_CHECK can help); 2 the app is wrong (a syntax error, a missing module, class
# or method: only a fix helps).
IMPORT_FAILED, APP_WRONG = 1, 2


def check_format(name: str, app_dir: str) -> int:
    """A model folder of another system: its settings resolved and its model imported, as
    the server's master does (``model.formats``)."""
    from python_runtime.model.formats import FORMATS, resolve
    from python_runtime.settings import Settings, SettingsError

    try:
        settings, module = resolve(Settings.load([app_dir, "--model-format", name],
                                                 read_annotations=False))
        module.user_class(settings)
    except SettingsError as exc:
        print("ERROR: %s" % exc, file=sys.stderr, flush=True)
        return APP_WRONG
    except LoadError as exc:
        print("ERROR: %s" % exc, file=sys.stderr, flush=True)
        cause = exc.__cause__
        return APP_WRONG if cause is None or isinstance(cause, SyntaxError) else IMPORT_FAILED
    print("     %s: %s is a %s model" % (app_dir, settings.model_name, FORMATS[name].NAME),
          flush=True)
    return 0


def main(argv: list) -> int:
    if argv[:1] == ["--format"]:
        return check_format(argv[1], argv[2])
    model_name, service_type, app_dir = argv
    try:
        cls = import_user_class(model_name, app_dir)
        check_service_type(cls, service_type)
    except LoadError as exc:
        print("ERROR: %s" % exc, file=sys.stderr, flush=True)
        if isinstance(exc, ModuleImportFailed) and not isinstance(exc.__cause__, SyntaxError):
            return IMPORT_FAILED
        return APP_WRONG
    print("     %s.%s implements %s" % (cls.__module__, cls.__name__, service_type), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
