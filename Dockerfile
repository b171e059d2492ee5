# syntax=docker/dockerfile:1
#
# One image definition for the five Python processes of Bodhi services. Pick the process with
#
#   docker build --build-arg COMPONENT=<gateway|auth-svc|secret-svc|model-svc|aiproxy-svc> .
#
# COMPONENT is the workspace folder of the process; its package is bodhi-<COMPONENT> and the
# final stage is the stage named <COMPONENT> below, which runs `python -m <module>` (the entry
# points of devstack/src/bodhi_devstack/components.py; deploy/tests checks that they agree).
# Listen addresses, URLs and secrets come from the environment (see docker-compose.yml and
# .env.example); nothing is baked in.

ARG COMPONENT

# ---------------------------------------------------------------------------------------------
# builder: resolve from uv.lock, generate the gRPC stubs, install the component non-editable
# into /opt/venv. Nothing of this stage but /opt/venv reaches the runtime image.
FROM python:3.11-slim-bookworm AS builder
ARG COMPONENT

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_FROZEN=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv

RUN case "${COMPONENT}" in \
        gateway|auth-svc|secret-svc|model-svc|aiproxy-svc) ;; \
        *) echo "build arg COMPONENT must be gateway, auth-svc, secret-svc, model-svc or aiproxy-svc (got '${COMPONENT}')" >&2; exit 1 ;; \
    esac

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /src

# The lock file and every workspace member's manifest (uv loads the whole workspace).
COPY pyproject.toml uv.lock ./
COPY common/pyproject.toml common/
COPY gateway/pyproject.toml gateway/
COPY auth-svc/pyproject.toml auth-svc/
COPY secret-svc/pyproject.toml secret-svc/
COPY model-svc/pyproject.toml model-svc/
COPY aiproxy-svc/pyproject.toml aiproxy-svc/
COPY devstack/pyproject.toml devstack/
COPY tests-e2e/pyproject.toml tests-e2e/
COPY cli/pyproject.toml cli/

# The stub generator, at the versions uv.lock pins for the root dev group (so the generated
# code matches the protobuf runtime the services get), in a throw-away environment.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv export --only-group dev --no-emit-workspace --no-hashes --format requirements-txt \
        --output-file /tmp/dev-constraints.txt \
    && uv venv /opt/protoc \
    && uv pip install --python /opt/protoc/bin/python --constraint /tmp/dev-constraints.txt \
        grpcio-tools mypy-protobuf

# Third-party dependencies of the component only (cached until uv.lock or a manifest changes).
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --no-dev --no-editable --no-install-workspace --package "bodhi-${COMPONENT}"

COPY proto/ proto/
COPY common/src/ common/src/
COPY ${COMPONENT}/src/ ${COMPONENT}/src/

# The same generation as `make proto` (common's wheel packages src/bodhi next to src/bodhi_common,
# so the stubs must exist before the install below).
RUN rm -rf common/src/bodhi \
    && mkdir -p common/src/bodhi \
    && find proto -name '*.proto' -exec env PATH="/opt/protoc/bin:${PATH}" \
        /opt/protoc/bin/python -m grpc_tools.protoc -I proto \
        --python_out=common/src --grpc_python_out=common/src \
        --mypy_out=common/src --mypy_grpc_out=common/src {} + \
    && find common/src/bodhi -type d -exec touch {}/__init__.py \; \
    && touch common/src/bodhi/.generated

# The component and bodhi-common as regular (non-editable) wheels: /opt/venv is self-contained.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --no-dev --no-editable --package "bodhi-${COMPONENT}"

# ---------------------------------------------------------------------------------------------
# runtime: the interpreter of the same base image, the venv, an unprivileged user. No uv, no
# compiler, no sources.
FROM python:3.11-slim-bookworm AS runtime

RUN groupadd --system --gid 10001 bodhi \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin bodhi

COPY --from=builder /opt/venv /opt/venv

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /app
USER 10001:10001
STOPSIGNAL SIGTERM

# ---------------------------------------------------------------------------------------------
# One stage per COMPONENT: its entry point and its health check. gRPC services are probed with
# grpc.health.v1 on the port of BODHI_GRPC_LISTEN (their Settings default when it is unset);
# the gateway with GET /health on BODHI_PORT.
FROM runtime AS gateway
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % (os.environ.get('BODHI_PORT') or '1135'), timeout=3)"]
CMD ["python", "-m", "gateway"]

FROM runtime AS auth-svc
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["/bin/sh", "-c", "listen=\"${BODHI_GRPC_LISTEN:-127.0.0.1:50051}\"; exec python -m bodhi_common.probe \"127.0.0.1:${listen##*:}\""]
CMD ["python", "-m", "auth_svc"]

FROM runtime AS secret-svc
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["/bin/sh", "-c", "listen=\"${BODHI_GRPC_LISTEN:-127.0.0.1:50052}\"; exec python -m bodhi_common.probe \"127.0.0.1:${listen##*:}\""]
CMD ["python", "-m", "secret_svc"]

FROM runtime AS model-svc
# The Hugging Face cache: a directory the unprivileged user owns, so a named volume mounted here
# starts with that ownership (docker-compose.yml mounts model-cache on it).
USER root
RUN mkdir -p /var/lib/bodhi/hf && chown -R 10001:10001 /var/lib/bodhi
USER 10001:10001
ENV HF_HOME=/var/lib/bodhi/hf
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["/bin/sh", "-c", "listen=\"${BODHI_GRPC_LISTEN:-127.0.0.1:50053}\"; exec python -m bodhi_common.probe \"127.0.0.1:${listen##*:}\""]
CMD ["python", "-m", "model_svc"]

FROM runtime AS aiproxy-svc
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["/bin/sh", "-c", "listen=\"${BODHI_GRPC_LISTEN:-127.0.0.1:50054}\"; exec python -m bodhi_common.probe \"127.0.0.1:${listen##*:}\""]
CMD ["python", "-m", "aiproxy_svc"]

# ---------------------------------------------------------------------------------------------
# The image: the stage named by COMPONENT (an unknown name fails the build here).
FROM ${COMPONENT}
