# The runtime tests on Python 3.6 (make test-py36): the py36 builder image, whose
# /opt/modelkiln virtualenv holds the pinned py36 runtime stack, plus the test tools.
ARG BUILDER=modelkiln/python36
FROM ${BUILDER}
COPY requirements/test-py36.txt /opt/modelkiln/test-requirements.txt
USER 0
RUN --mount=type=secret,id=ca_bundle --mount=type=secret,id=pip_conf \
    set -eu; \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; \
    if [ -s /run/secrets/pip_conf ]; then export PIP_CONFIG_FILE=/run/secrets/pip_conf; fi; \
    /opt/modelkiln/bin/pip install --no-cache-dir -r /opt/modelkiln/test-requirements.txt; \
    rm -rf /root/.cache
USER 1001
