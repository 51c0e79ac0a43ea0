"""``create_app``: what the template's ``app.py`` calls. modelkiln does not run ``app.py`` to
serve the model (it reads the ``create_app(...)`` call instead), so the object returned here
only matters to code that imports ``app.py`` with this package in place: it is a WSGI
application serving the folder, built on its first request, and its ``main()`` (the
template's ``python app.py``) starts modelkiln's server on the folder."""

import argparse
import os
import sys
import threading


class ModelApp(object):
    """The template's app object, served by modelkiln."""

    def __init__(self, model_factory, shutdown_function, folder):
        self.model_factory = model_factory
        self.shutdown_function = shutdown_function  # modelkiln's /shutdown ends its server
        self.folder = folder
        self.config = {"PSC_MODEL_FACTORY": model_factory}
        self._app = None
        self._lock = threading.Lock()

    def main(self, args=None):
        """``python app.py [--host H] [--port P]``: modelkiln's server for this folder, the
        Modzy API on ``--port`` (else PSC_MODEL_PORT, else the REST port, 9000)."""
        parser = argparse.ArgumentParser(description="serve this Modzy model with modelkiln")
        parser.add_argument("--host", "-H", default=os.environ.get("PSC_MODEL_HOST"))
        parser.add_argument("--port", "-p", default=os.environ.get("PSC_MODEL_PORT"))
        parser.add_argument("--no-debug", action="store_true",
                            help="accepted for the template's sake; modelkiln has no debug "
                                 "server here")
        options = parser.parse_args(args)
        from python_runtime.cli import main

        argv = [self.folder, "--model-format", "modzy"]
        if options.host:
            argv += ["--host", options.host]
        if options.port:
            argv += ["--modzy-port", str(options.port)]
        sys.exit(main(argv))

    def __call__(self, environ, start_response):
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from python_runtime.jobs.predict import load_app

                    self._app = load_app(self.folder)
        return self._app(environ, start_response)


def create_app(model_factory=None, shutdown_function=None):
    """The model app for ``model_factory``: the model class (or a function returning the
    model, or its dotted import path); when None, the PSC_MODEL_FACTORY variable names it.
    modelkiln finds the factory in ``app.py``'s call to this function (or PSC_MODEL_FACTORY)
    without running ``app.py``."""
    if model_factory is None:
        model_factory = os.environ.get("PSC_MODEL_FACTORY")
    if not model_factory:
        raise ValueError("create_app needs the model factory: pass the model class, or set "
                         "PSC_MODEL_FACTORY to its import path (package.module.Class)")
    caller = sys._getframe(1).f_code.co_filename  # app.py: the folder to serve
    folder = os.path.dirname(os.path.abspath(caller)) if os.path.isfile(caller) else os.getcwd()
    return ModelApp(model_factory, shutdown_function, folder)
