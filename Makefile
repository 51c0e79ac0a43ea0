# modelkiln: every entry point. `make demo` and `make test` are the two that matter.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SELDON_VENV ?= .venv-seldon
OLDPINS_VENV ?= .venv-oldpins
PYTEST_ARGS ?=

.PHONY: help venv seldon-venv oldpins-venv lint vermin test test-runtime test-compat test-oldpins demo bench docs clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed ## development virtualenv with the runtime and test tools

$(SELDON_VENV)/.installed:
	$(PYTHON) -m venv $(SELDON_VENV)
	$(SELDON_VENV)/bin/pip install -q 'seldon-core==1.18.*' 'setuptools<81'
	touch $@

seldon-venv: $(SELDON_VENV)/.installed ## seldon-core 1.18 in its own virtualenv (test oracle and benchmark peer only)

$(OLDPINS_VENV)/.installed: pyproject.toml requirements/oldest-pins.txt
	$(PYTHON) -m venv $(OLDPINS_VENV)
	$(OLDPINS_VENV)/bin/pip install -q -r requirements/oldest-pins.txt
	$(OLDPINS_VENV)/bin/pip install -q --no-deps -e .
	$(OLDPINS_VENV)/bin/pip install -q pytest hypothesis requests
	touch $@

oldpins-venv: $(OLDPINS_VENV)/.installed ## the oldest supported Flask/Werkzeug/gunicorn on this Python

vermin: venv ## python_runtime and builder stay Python 3.6 compatible
	$(VENV)/bin/vermin --no-tips --violations -t=3.6- --backport dataclasses python_runtime builder

lint: vermin

test-runtime: venv
	$(PY) -m pytest tests/python_runtime $(PYTEST_ARGS)

test-compat: venv seldon-venv
	$(PY) -m pytest tests/compat $(PYTEST_ARGS)

test-oldpins: oldpins-venv
	$(OLDPINS_VENV)/bin/python -m pytest tests/python_runtime $(PYTEST_ARGS)

test: lint test-runtime test-compat test-oldpins ## every test: 3.6 check, runtime, seldon differential, oldest pins

demo: venv ## serve templates/model-template-app and send it a prediction
	$(PY) -m builder.demo

bench: venv seldon-venv ## modelkiln vs seldon-core vs bare WSGI with wrk; writes bench/RESULTS.md
	$(PY) bench/run.py

docs: venv ## regenerate the settings table in README.md
	$(PY) -m python_runtime.settings --update-readme README.md

clean:
	rm -rf $(VENV) $(SELDON_VENV) $(OLDPINS_VENV) build *.egg-info
