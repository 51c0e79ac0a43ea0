# modelkiln: every entry point. `make demo` and `make test` are the two that matter.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SELDON_VENV ?= .venv-seldon
CATWALK_VENV ?= .venv-catwalk
CATWALK_TARBALL ?= ../shared/vendor/catwalk-49bafe1.tar.gz
CATWALK_SRC := .build/$(basename $(basename $(notdir $(CATWALK_TARBALL))))
ODAHU_VENV ?= .venv-odahu
ODAHU_TARBALL ?= ../shared/vendor/odahu-gppi.tar.gz
ODAHU_SRC := .build/$(basename $(basename $(notdir $(ODAHU_TARBALL))))
MLFLOW_VENV ?= .venv-mlflow
MLFLOW_SKINNY_VENV ?= .venv-mlflow-skinny
TRITON_VENV ?= .venv-triton
OPENAI_VENV ?= .venv-openai
OLDPINS_VENV ?= .venv-oldpins
V2_VENV ?= .venv-v2
ASGI_VENV ?= .venv-asgi
FRAMEWORKS_VENV ?= .venv-frameworks
MANIFESTS_VENV ?= .venv-manifests
DOCS_VENV ?= .venv-docs
PYTEST_ARGS ?=

.PHONY: help venv seldon-venv oldpins-venv asgi-venv lint vermin test test-runtime test-compat test-oldpins test-images demo bench docs clean \
	base-py311 local-base-py311 image-py311 base-py311-runtime image-py311-runtime images hadolint engine ruff \
	base-py36 local-base-py36 image-py36 test-py36 test-images-py36 v2-venv test-v2 test-compat-grpc \
	base-py38-cuda local-base-cuda11 image-py38-cuda base-py311-cuda image-py311-cuda test-images-cuda \
	frameworks-venv test-frameworks test-reliability manifests-venv test-manifests podman \
	odahu-venv test-compat-gppi \
	catwalk-venv test-compat-catwalk mlflow-venv test-compat-mlflow mlflow-test-app \
	triton-venv test-compat-triton openai-venv test-openai \
	browser test-browser test-full test-images-full docs-venv site test-docs reliability-tools

# Docker: the docker.io client speaks the local engine's API and supports BuildKit secrets.
DOCKER ?= $(shell [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker)
export DOCKER_API_VERSION ?= 1.41
BASE_PY311 ?= python:3.11-slim
LOCAL_BASE_PY311 ?= modelkiln-local/python311-base:bookworm
RUNTIME_BASE_PY311 ?= modelkiln-local/python311-runtime-base:bookworm
BASE_PY36 ?= python:3.6-slim
LOCAL_BASE_PY36 ?= modelkiln-local/python36-base:3.6.13
BASE_PY38_CUDA ?= nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu20.04
LOCAL_BASE_CUDA11 ?= modelkiln-local/cuda-base:11.8.0-cudnn8-bullseye
BASE_PY311_CUDA ?= modelkiln-local/python311-cuda-base:cu128
CA_BUNDLE ?= $(firstword $(wildcard /etc/ssl/certs/ca-certificates.crt))
BUILD_SECRETS = $(if $(CA_BUNDLE),--secret id=ca_bundle$(comma)src=$(CA_BUNDLE)) --secret id=pip_conf,src=.build/pip.conf
comma := ,
# Test images are named per checkout, so two checkouts on one engine never replace each other's.
CHECKOUT_ID := $(shell printf %s "$(CURDIR)" | sha256sum | cut -c1-8)
PY36_TEST_IMAGE = modelkiln-test/$(CHECKOUT_ID)/py36-runtime

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

venv: $(VENV)/.installed ## development virtualenv with the runtime and test tools

# tests/compat also runs modelkiln's runtime from this venv, beside the real seldon-core: it gets
# every runtime dependency from pyproject.toml except prometheus-client, which seldon-core pins.
$(SELDON_VENV)/.installed: pyproject.toml tests/compat/runtime_requirements.py
	rm -rf $(SELDON_VENV)
	$(PYTHON) -m venv $(SELDON_VENV)
	$(PYTHON) tests/compat/runtime_requirements.py --except prometheus-client > $(SELDON_VENV)/runtime.txt
	$(SELDON_VENV)/bin/pip install -q 'seldon-core==1.18.*' 'setuptools<81' pytest -r $(SELDON_VENV)/runtime.txt
	touch $@

seldon-venv: $(SELDON_VENV)/.installed ## seldon-core 1.18 in its own virtualenv (test oracle and benchmark peer only)

# catwalk (upstream 49bafe1), the oracle of tests/compat_catwalk: its source unpacked into .build/
# (the suite serves its example_models/ from there, unchanged) and installed into its own
# virtualenv with the pins of requirements/test-catwalk.txt. --no-deps: the pins hold everything
# `catwalk serve --debug` imports; gunicorn, gevent and cryptography (production mode, image
# encryption) are left out.
$(CATWALK_VENV)/.installed: $(CATWALK_TARBALL) requirements/test-catwalk.txt
	rm -rf $(CATWALK_VENV) $(CATWALK_SRC)
	mkdir -p .build && tar xzf $(CATWALK_TARBALL) -C .build
	$(PYTHON) -m venv $(CATWALK_VENV)
	$(CATWALK_VENV)/bin/pip install -q -r requirements/test-catwalk.txt
	$(CATWALK_VENV)/bin/pip install -q --no-deps ./$(CATWALK_SRC)
	touch $@

catwalk-venv: $(CATWALK_VENV)/.installed ## catwalk 0.1.0 and its example models' packages in their own virtualenv (test oracle only)

# ODAHU (odahu-packager 1.6.1, odahu-flow 1.6.1), the oracle of tests/compat_gppi and the peer of
# bench/odahu.py: the tarball unpacked into .build/ (the docker-rest handler, the docker-cli
# image's entrypoint_invoke.py and ODAHU's example GPPI folders are used from there, unchanged)
# and the handler's server packages (requirements/test-odahu.txt) in their own virtualenv.
$(ODAHU_VENV)/.installed: $(ODAHU_TARBALL) requirements/test-odahu.txt
	rm -rf $(ODAHU_VENV) $(ODAHU_SRC)
	mkdir -p $(ODAHU_SRC) && tar xzf $(ODAHU_TARBALL) -C $(ODAHU_SRC)
	$(PYTHON) -m venv $(ODAHU_VENV)
	$(ODAHU_VENV)/bin/pip install -q --no-deps -r requirements/test-odahu.txt
	touch $@

odahu-venv: $(ODAHU_VENV)/.installed ## ODAHU's docker-rest handler's Flask, orjson, numpy and gunicorn in their own virtualenv, its sources in .build/ (test oracle and bench peer only)

# MLflow, the oracle of tests/compat_mlflow and the bench's peer: mlflow from PyPI with everything
# it installs pinned (requirements/test-mlflow.txt) in .venv-mlflow, which also saves the suite's
# models. modelkiln's side runs from .venv-mlflow-skinny: the runtime's py311 pins and what an
# image of an MLflow folder installs (mlflow-skinny, not mlflow), so .venv never gets mlflow.
$(MLFLOW_VENV)/.installed: requirements/test-mlflow.txt
	rm -rf $(MLFLOW_VENV)
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install -q -r requirements/test-mlflow.txt
	touch $@

$(MLFLOW_SKINNY_VENV)/.installed: requirements/runtime-py311.txt requirements/test-mlflow-skinny.txt
	rm -rf $(MLFLOW_SKINNY_VENV)
	$(PYTHON) -m venv $(MLFLOW_SKINNY_VENV)
	$(MLFLOW_SKINNY_VENV)/bin/pip install -q -r requirements/runtime-py311.txt -r requirements/test-mlflow-skinny.txt
	touch $@

mlflow-venv: $(MLFLOW_VENV)/.installed $(MLFLOW_SKINNY_VENV)/.installed ## MLflow (test oracle, bench peer) and the runtime with mlflow-skinny, each in its own virtualenv

# Triton, the oracle of tests/compat_triton and the peer of bench/triton.py: the tritonserver that
# nvidia-pytriton's wheel bundles (requirements/test-triton.txt) in .venv-triton, laid out in
# .build/tritonserver as its own launcher does (bin, backends/python with the Python backend stub
# built for this Python, its libraries from the wheel's nvidia_pytriton.libs). It runs
# Python-backend models on the CPU. modelkiln's side of the suite runs from .venv.
TRITON_SITE = $(TRITON_VENV)/lib/python$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages
$(TRITON_VENV)/.installed: requirements/test-triton.txt
	rm -rf $(TRITON_VENV) .build/tritonserver
	$(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install -q -r requirements/test-triton.txt
	mkdir -p .build && cp -r $(TRITON_SITE)/pytriton/tritonserver .build/tritonserver
	rm -rf .build/tritonserver/python_backend_stubs
	cp $(TRITON_SITE)/pytriton/tritonserver/python_backend_stubs/$$($(TRITON_VENV)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')/triton_python_backend_stub .build/tritonserver/backends/python/
	touch $@

# The official openai client, the independent client of tests/openai (its own virtualenv; the
# server under test runs from .venv).
$(OPENAI_VENV)/.installed: requirements/test-openai.txt
	rm -rf $(OPENAI_VENV)
	$(PYTHON) -m venv $(OPENAI_VENV)
	$(OPENAI_VENV)/bin/pip install -q -r requirements/test-openai.txt
	touch $@

openai-venv: venv $(OPENAI_VENV)/.installed ## the openai client in its own virtualenv (tests/openai)

triton-venv: venv $(TRITON_VENV)/.installed ## tritonserver from nvidia-pytriton and tritonclient in their own virtualenv (test oracle and bench peer only)

mlflow-test-app: mlflow-venv ## write test_apps/mlflow-sklearn again with the oracle's mlflow (tests/compat_mlflow/make_models.py)
	rm -rf .build/mlflow-app && $(MLFLOW_VENV)/bin/python tests/compat_mlflow/make_models.py .build/mlflow-app sklearn-iris
	mkdir -p test_apps/mlflow-sklearn && cp -r .build/mlflow-app/sklearn-iris/. test_apps/mlflow-sklearn/

$(OLDPINS_VENV)/.installed: pyproject.toml requirements/oldest-pins.txt
	$(PYTHON) -m venv $(OLDPINS_VENV)
	$(OLDPINS_VENV)/bin/pip install -q -r requirements/oldest-pins.txt
	$(OLDPINS_VENV)/bin/pip install -q --no-deps -e .
	$(OLDPINS_VENV)/bin/pip install -q pytest hypothesis requests h2
	touch $@

oldpins-venv: $(OLDPINS_VENV)/.installed ## the oldest supported Flask/Werkzeug/gunicorn on this Python

# The V2 peers and clients: MLServer (uvloop 0.21: later ones crash its workers) and tritonclient.
$(V2_VENV)/.installed: requirements/test-v2.txt
	$(PYTHON) -m venv $(V2_VENV)
	$(V2_VENV)/bin/pip install -q --upgrade pip
	$(V2_VENV)/bin/pip install -q -r requirements/test-v2.txt
	touch $@

$(FRAMEWORKS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(FRAMEWORKS_VENV)
	$(FRAMEWORKS_VENV)/bin/pip install -q -e . 'torch==2.13.0+cpu' scikit-learn pytest requests
	touch $@

frameworks-venv: $(FRAMEWORKS_VENV)/.installed ## the runtime with PyTorch (CPU) and scikit-learn, for tests/frameworks

v2-venv: $(V2_VENV)/.installed ## MLServer 1.7 and tritonclient in their own virtualenv (V2 tests and bench peers only)

# What users write instead of a model server (bench peers only): uvicorn + uvloop + orjson, FastAPI.
$(ASGI_VENV)/.installed: requirements/bench-asgi.txt
	$(PYTHON) -m venv $(ASGI_VENV)
	$(ASGI_VENV)/bin/pip install -q -r requirements/bench-asgi.txt
	touch $@

asgi-venv: $(ASGI_VENV)/.installed ## uvicorn (httptools, uvloop, orjson) and FastAPI for the bench's raw ASGI and FastAPI peers

# The schemas tests/manifests checks against: kubernetes-validate, seldon-deploy-sdk, the kserve
# SDK's models (--no-deps: its model server's dependencies are not needed to read them) and
# OpenShift's OpenAPI document from npm's openshift-rest-client.
$(MANIFESTS_VENV)/.installed: requirements/test-manifests.txt
	$(PYTHON) -m venv $(MANIFESTS_VENV)
	$(MANIFESTS_VENV)/bin/pip install -q -r requirements/test-manifests.txt
	$(MANIFESTS_VENV)/bin/pip install -q --no-deps 'kserve==0.21.0'
	rm -rf $(MANIFESTS_VENV)/openshift && mkdir -p $(MANIFESTS_VENV)/openshift
	cd $(MANIFESTS_VENV)/openshift && npm pack -q openshift-rest-client@9.1.1 >/dev/null && \
		tar xzf openshift-rest-client-9.1.1.tgz package/lib/specs/openshift-openapi-spec.json.gz
	touch $@

manifests-venv: $(MANIFESTS_VENV)/.installed ## schema tools for tests/manifests in their own virtualenv

# The documentation site's generator (MkDocs with Material), the clients its examples use and
# this checkout (the reference pages import it), in their own virtualenv.
$(DOCS_VENV)/.installed: requirements/docs.txt pyproject.toml
	rm -rf $(DOCS_VENV)
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/pip install -q -r requirements/docs.txt -e .
	touch $@

docs-venv: $(DOCS_VENV)/.installed ## MkDocs, Material and the docs examples' clients in their own virtualenv

site: docs-venv ## build the documentation site into site/ (strict: a broken link or anchor fails)
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict --clean -d site

test-docs: docs-venv browser ## the docs site: strict offline build, generated reference, every example run, Chromium
	$(DOCS_VENV)/bin/python -m pytest tests/docs $(PYTEST_ARGS)

vermin: venv ## python_runtime and builder stay Python 3.6 compatible
	$(VENV)/bin/vermin --no-tips --violations -t=3.6- --backport dataclasses python_runtime builder

ruff: venv ## pyflakes-level checks (unused names, undefined names, syntax)
	$(VENV)/bin/ruff check --select F,E9 python_runtime builder modelkiln_cli tests bench

lint: vermin hadolint ruff ## 3.6 compatibility check, Dockerfile lint, pyflakes checks

test-runtime: venv
	$(PY) -m pytest tests/python_runtime tests/builder tests/repo $(PYTEST_ARGS)

# Debian's Go with the Go packages h2spec needs (tests/h2spec/build.sh builds it offline, GOPATH
# mode, cached), Debian's nginx (grpc_pass in front of the gRPC port) and node/npm (the grpc-js
# client) for tests/reliability; installed when missing.
H2SPEC_DEBS := golang-go golang-github-spf13-cobra-dev golang-github-fatih-color-dev golang-golang-x-net-dev
reliability-tools: ## install Go (for h2spec), nginx and npm when missing; build h2spec (cached)
	@missing="$$(dpkg -s $(H2SPEC_DEBS) nginx >/dev/null 2>&1 || echo $(H2SPEC_DEBS) nginx) $$(command -v npm >/dev/null || echo nodejs npm)"; \
	if [ -n "$$(echo $$missing)" ]; then \
		echo "---> apt-get install $$missing"; \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@sh tests/h2spec/build.sh >/dev/null

test-reliability: venv reliability-tools ## attacks on a live server: slow clients, amplification, framing, multipart, HTTP/2 (h2spec, fuzzer, grpc-js, nginx)
	$(PY) -m pytest tests/reliability $(PYTEST_ARGS)

test-compat: venv seldon-venv
	$(PY) -m pytest tests/compat $(PYTEST_ARGS)

test-compat-grpc: venv seldon-venv ## gRPC differential tests against seldon-core's gRPC server (its stubs as client)
	$(SELDON_VENV)/bin/python -m pytest tests/compat_grpc $(PYTEST_ARGS)

test-compat-catwalk: venv catwalk-venv ## differential tests against catwalk's own server on its example models and two of its own (tests/compat_catwalk)
	$(PY) -m pytest tests/compat_catwalk $(PYTEST_ARGS)

test-compat-gppi: venv odahu-venv ## differential tests against ODAHU's docker-rest handler (gunicorn) and docker-cli invoker on GPPI folders (tests/compat_gppi)
	$(PY) -m pytest tests/compat_gppi $(PYTEST_ARGS)

test-compat-mlflow: mlflow-venv ## differential tests against `mlflow models serve` on MLflow folders its own mlflow saves (tests/compat_mlflow)
	$(MLFLOW_SKINNY_VENV)/bin/python -m pytest tests/compat_mlflow $(PYTEST_ARGS)

test-openai: venv openai-venv ## the OpenAI-compatible routes and streamed answers against the official openai client and curl -N (tests/openai)
	$(OPENAI_VENV)/bin/python -m pytest tests/openai $(PYTEST_ARGS)

test-compat-triton: venv triton-venv ## differential tests against tritonserver (nvidia-pytriton's) on Triton Python-backend models, tritonclient HTTP and gRPC (tests/compat_triton)
	$(TRITON_VENV)/bin/python -m pytest tests/compat_triton $(PYTEST_ARGS)

# The HTTP/1.1 smuggling corpus too: the oldest pins' httptools (llhttp 6) takes another path.
test-oldpins: oldpins-venv
	$(OLDPINS_VENV)/bin/python -m pytest tests/python_runtime tests/reliability/test_http1_attacks.py $(PYTEST_ARGS)

test-images: venv image-py311 image-py311-runtime reliability-tools ## build every template and test app with modelkiln build (and two with the real s2i, built from ../shared/vendor) and test the images (not the `full` ones)
	$(PY) -m pytest tests/images -m "not full and not cuda" $(PYTEST_ARGS)

test-images-full: venv image-py311 image-py311-runtime podman ## the heaviest image cases (conda environments, podman kube play): make test-full
	$(PY) -m pytest tests/images -m "full and not cuda" $(PYTEST_ARGS)

test-images-cuda: venv image-py311-cuda image-py38-cuda ## the CUDA builders on the CPU: an app builds and serves, CUDA PyTorch imports and falls back to the CPU, GPUs per worker: make test-full
	MODELKILN_CUDA_BUILDERS="modelkiln/python311-cuda $$(cut -d' ' -f4 .build/base-py38-cuda)" \
		$(PY) -m pytest tests/images -m cuda $(PYTEST_ARGS)

test-browser: venv browser ## the /docs page in headless Chromium (Selenium): Try it out, offline
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)

test-manifests: manifests-venv ## modelkiln manifests: golden files, every kind checked by real schemas
	$(MANIFESTS_VENV)/bin/python -m pytest tests/manifests $(PYTEST_ARGS)

test-v2: venv v2-venv ## V2 REST with tritonclient, differential against MLServer, schemathesis
	$(V2_VENV)/bin/python -m pytest tests/v2 $(PYTEST_ARGS)

test-frameworks: frameworks-venv ## real PyTorch and scikit-learn models that compute in __init__, 2 workers; bench/gpu.py's steps on the CPU
	$(FRAMEWORKS_VENV)/bin/python -m pytest tests/frameworks $(PYTEST_ARGS)
	@command -v wrk >/dev/null || { echo "---> apt-get install wrk"; apt-get install -y -q wrk >/dev/null; }
	$(FRAMEWORKS_VENV)/bin/python bench/gpu.py --device cpu --duration 2

test-py36: image-py36 ## the runtime tests on Python 3.6 with the py36 pins, inside the py36 builder image
	DOCKER_BUILDKIT=1 $(DOCKER) build -q $(BUILD_SECRETS) -f tests/py36.Dockerfile -t $(PY36_TEST_IMAGE) . >/dev/null
	$(DOCKER) run --rm -v $(CURDIR):/repo:ro -w /repo -e PYTHONDONTWRITEBYTECODE=1 \
		-e HYPOTHESIS_STORAGE_DIRECTORY=/tmp/hypothesis $(PY36_TEST_IMAGE) \
		/opt/modelkiln/bin/python -m pytest tests/python_runtime tests/reliability/test_http1_attacks.py $(PYTEST_ARGS)

test-images-py36: venv image-py36 podman reliability-tools ## build every template and test app with the py36 builder and test the images
	MODELKILN_TEST_BUILDER=modelkiln/python36 $(PY) -m pytest tests/images -m "not cuda" $(PYTEST_ARGS)

test: lint test-runtime test-reliability test-browser test-docs test-compat test-compat-grpc test-compat-catwalk test-compat-gppi test-compat-mlflow test-compat-triton test-openai test-v2 test-oldpins test-frameworks test-manifests test-images test-py36 ## every test but the heaviest image cases (needs a Docker engine)

# The heaviest image cases: conda environments (their Python compiled once), podman kube play, and
# every app again with the py36 builder. .ci/run adds them when the image inputs changed.
test-full: test test-images-full test-images-py36 test-images-cuda ## make test and the heaviest image cases

demo: venv image-py311 ## build the builder image and the model template into an app image, run it, predict
	$(PY) -m modelkiln_cli.demo

bench: venv seldon-venv v2-venv asgi-venv ## modelkiln vs seldon-core, MLServer, bare WSGI (REST with wrk, gRPC with Python clients); writes bench/RESULTS.md and its charts
	$(PY) bench/run.py
	$(PY) bench/charts.py

docs: site ## the documentation site, built strictly into site/ (its reference pages are generated from the code)

# Debian's Chromium and its WebDriver for tests/browser.
browser: ## install Debian's chromium and chromium-driver when missing
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "---> apt-get install chromium chromium-driver"; \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium chromium-driver >/dev/null; \
	fi

# podman for tests/images/test_podman_kube.py (kube play of the generated Deployment).
podman: ## install Debian's podman (and catatonit, its pause process) when missing
	@if ! command -v podman >/dev/null || ! command -v catatonit >/dev/null; then \
		echo "---> apt-get install podman catatonit"; \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq podman catatonit >/dev/null; \
	fi

# A Docker engine on this machine: installs docker.io (and debootstrap) and starts dockerd when
# none answers. Needs root, as installing packages does.
engine: ## make sure a Docker engine runs here (installs docker.io and starts dockerd if needed)
	@if ! [ -x /usr/bin/docker ] || ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then \
		echo "---> apt-get install docker.io debootstrap"; \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq docker.io debootstrap >/dev/null; \
	fi
	@if ! $(DOCKER) info >/dev/null 2>&1; then \
		echo "---> starting dockerd (log: /tmp/modelkiln-dockerd.log)"; \
		nohup dockerd >/tmp/modelkiln-dockerd.log 2>&1 & \
		for i in $$(seq 1 60); do $(DOCKER) info >/dev/null 2>&1 && break; sleep 1; done; \
		$(DOCKER) info >/dev/null 2>&1 || { tail -30 /tmp/modelkiln-dockerd.log; exit 1; }; \
	fi
	@echo "---> docker engine $$($(DOCKER) version --format '{{.Server.Version}}')"

# pip's index, mirror and certificate settings, read from this machine's pip configuration each
# run (it lives outside the checkout, so no file date can say when it changed); rewritten only
# when the text differs.
.build/pip.conf: FORCE
	@mkdir -p .build
	@$(PYTHON) -m modelkiln_cli.hostconfig pip-conf > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; echo "---> $@ written"; fi

FORCE:

# The public base when the engine has it or can pull it; otherwise a local Debian with python3
# (standins/python311-base.sh: debootstrap from the apt mirror this machine uses, then docker
# import; rebuilt when its key label differs). Checked on every run, never a stale stamp.
base-py311: .build/pip.conf | engine ## the base image for image-py311
	@if $(DOCKER) image inspect $(BASE_PY311) >/dev/null 2>&1 || $(DOCKER) pull $(BASE_PY311) >/dev/null 2>&1; then \
		echo "---> base image $(BASE_PY311)"; echo $(BASE_PY311) > .build/base-py311; \
	else \
		echo "---> $(BASE_PY311) cannot be pulled: using the local stand-in $(LOCAL_BASE_PY311)"; \
		$(MAKE) --no-print-directory local-base-py311 && echo $(LOCAL_BASE_PY311) > .build/base-py311; \
	fi

local-base-py311: ## a minimal Debian 12 + python3 base image, built with debootstrap
	DOCKER=$(DOCKER) bash standins/python311-base.sh $(LOCAL_BASE_PY311)

image-py311: base-py311 .build/pip.conf ## the default builder image modelkiln/python311
	DOCKER_BUILDKIT=1 $(DOCKER) build --progress=plain $(BUILD_SECRETS) \
		--build-arg BASE_IMAGE=$$(cat .build/base-py311) -f Dockerfile.py311 -t modelkiln/python311 .

# The slim runtime image (Dockerfile.py311-runtime): its base is the builder's base less what
# only building needs (standins/runtime-base.sh; rebuilt when the script or the base changes).
base-py311-runtime: base-py311 ## the base image for image-py311-runtime
	DOCKER=$(DOCKER) bash standins/runtime-base.sh $$(cat .build/base-py311) $(RUNTIME_BASE_PY311)

image-py311-runtime: base-py311-runtime .build/pip.conf ## the runtime image slim app images run on, modelkiln/python311-runtime
	DOCKER_BUILDKIT=1 $(DOCKER) build --progress=plain $(BUILD_SECRETS) \
		--build-arg BASE_IMAGE=$$(cat .build/base-py311) --build-arg RUNTIME_BASE_IMAGE=$(RUNTIME_BASE_PY311) \
		-f Dockerfile.py311-runtime -t modelkiln/python311-runtime .

# The py36 builder: on python:3.6-slim when the engine has it or can pull it; otherwise on a
# stand-in built from CPython 3.6.13 and OpenSSL 1.1.1 sources (cached, see standins/README.md).
base-py36: .build/pip.conf | engine
	@if $(DOCKER) image inspect $(BASE_PY36) >/dev/null 2>&1 || $(DOCKER) pull $(BASE_PY36) >/dev/null 2>&1; then \
		echo "---> base image $(BASE_PY36)"; echo $(BASE_PY36) > .build/base-py36; \
	else \
		echo "---> $(BASE_PY36) cannot be pulled: using the local stand-in $(LOCAL_BASE_PY36)"; \
		$(MAKE) --no-print-directory local-base-py36 && echo $(LOCAL_BASE_PY36) > .build/base-py36; \
	fi

local-base-py36: ## a python:3.6-slim stand-in built from ../shared/vendor and Debian's sources
	DOCKER=$(DOCKER) bash standins/python36-base.sh $(LOCAL_BASE_PY36)

image-py36: base-py36 .build/pip.conf ## the legacy builder image modelkiln/python36
	DOCKER_BUILDKIT=1 $(DOCKER) build --progress=plain $(BUILD_SECRETS) \
		--build-arg BASE_IMAGE=$$(cat .build/base-py36) -f Dockerfile.py36 -t modelkiln/python36 .

# The CUDA 11.8 builder: on nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu20.04 with its python3.8
# when the engine has it or can pull it; otherwise on a stand-in (standins/cuda11-base.sh:
# Debian 11 and CUDA 11.8 from NVIDIA's wheels), whose Python is python3.9, and the tag says
# so. .build/base-py38-cuda: base image, Python package, pins file, image tag.
base-py38-cuda: .build/pip.conf | engine
	@if $(DOCKER) image inspect $(BASE_PY38_CUDA) >/dev/null 2>&1 || $(DOCKER) pull $(BASE_PY38_CUDA) >/dev/null 2>&1; then \
		echo "---> base image $(BASE_PY38_CUDA)"; \
		echo "$(BASE_PY38_CUDA) python3.8 runtime-py38.txt modelkiln/python38-cuda" > .build/base-py38-cuda; \
	else \
		echo "---> $(BASE_PY38_CUDA) cannot be pulled: using the local stand-in $(LOCAL_BASE_CUDA11) (Python 3.9)"; \
		$(MAKE) --no-print-directory local-base-cuda11 && \
		echo "$(LOCAL_BASE_CUDA11) python3.9 runtime-py39.txt modelkiln/python38-cuda:py39-standin" > .build/base-py38-cuda; \
	fi

local-base-cuda11: ## a stand-in of nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu20.04: Debian 11, CUDA 11.8 and cuDNN 8.9 from NVIDIA's wheels
	DOCKER=$(DOCKER) bash standins/cuda11-base.sh $(LOCAL_BASE_CUDA11)

image-py38-cuda: base-py38-cuda .build/pip.conf ## the CUDA 11.8 builder (modelkiln/python38-cuda, or :py39-standin on the stand-in)
	set -- $$(cat .build/base-py38-cuda); \
	DOCKER_BUILDKIT=1 $(DOCKER) build --progress=plain $(BUILD_SECRETS) --build-arg BASE_IMAGE=$$1 \
		--build-arg PYTHON=$$2 --build-arg PINS=$$3 -f Dockerfile.py38-cuda -t $$4 .

# The CUDA 12 builder: Dockerfile.py311 on the py311 base with NVIDIA's CUDA 12 wheels in a
# layer of their own below it (Dockerfile.py311-cuda), relabelled.
base-py311-cuda: base-py311 .build/pip.conf ## the py311 base with CUDA 12.8 and cuDNN 9 from NVIDIA's wheels
	DOCKER_BUILDKIT=1 $(DOCKER) build --progress=plain $(BUILD_SECRETS) \
		--build-arg BASE_IMAGE=$$(cat .build/base-py311) -f Dockerfile.py311-cuda -t $(BASE_PY311_CUDA) .

image-py311-cuda: base-py311-cuda .build/pip.conf ## the CUDA 12 builder modelkiln/python311-cuda
	DOCKER_BUILDKIT=1 $(DOCKER) build --progress=plain $(BUILD_SECRETS) \
		--build-arg BASE_IMAGE=$(BASE_PY311_CUDA) -f Dockerfile.py311 -t modelkiln/python311-cuda \
		--label org.opencontainers.image.title=modelkiln/python311-cuda \
		--label io.k8s.display-name="modelkiln Python 3.11 CUDA 12 builder" \
		--label io.openshift.tags=builder,python,python311,cuda,seldon,modelkiln \
		--label io.modelkiln.runtime-image= .

images: image-py311 image-py311-runtime image-py36 image-py311-cuda image-py38-cuda hadolint ## every builder image

hadolint: venv ## lint the Dockerfiles
	$(VENV)/bin/hadolint Dockerfile.py311 Dockerfile.py311-runtime Dockerfile.py36 Dockerfile.py38-cuda Dockerfile.py311-cuda tests/py36.Dockerfile

clean:
	rm -rf $(VENV) $(SELDON_VENV) $(OLDPINS_VENV) $(V2_VENV) $(ASGI_VENV) $(FRAMEWORKS_VENV) $(MANIFESTS_VENV) $(DOCS_VENV) site build .build *.egg-info
