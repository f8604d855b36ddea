# One image recipe for the three ECI services, chosen by the build argument SERVICE:
#   docker build --build-arg SERVICE=registry -t eci-registry .
#   (SERVICE is one of: registry, projects, notifications)
# docker-compose.yml builds all three from this file.
#
# Stage 1 resolves the service's locked dependencies with uv into /app/.venv (workspace members
# installed as regular, non-editable packages); stage 2 copies only that virtualenv onto a clean
# python:3.11-slim, so neither uv, nor the sources, nor the build cache end up in the image.
# Uses BuildKit (the default builder of Docker Engine 23+ and of `docker compose build`).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build

ARG SERVICE
RUN case "${SERVICE}" in \
      registry|projects|notifications) ;; \
      *) echo "build arg SERVICE must be registry, projects or notifications (got '${SERVICE}')" >&2; \
         exit 1 ;; \
    esac

RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore uv==0.13.8

# Never download an interpreter: use the image's /usr/local/bin/python3.11, which the runtime
# stage has at the same path (the venv's bin/python is a symlink to it).
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

WORKDIR /app

# Third-party dependencies first, from the lock file alone: this layer is rebuilt only when
# pyproject.toml or uv.lock change, not on every source edit.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "eci-${SERVICE}"

# Then the workspace members the service needs (eci-common and the service itself).
COPY libs/ libs/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "eci-${SERVICE}"


FROM ${PYTHON_IMAGE} AS runtime

ARG SERVICE
LABEL org.opencontainers.image.title="eci-${SERVICE}" \
      org.opencontainers.image.description="Espace Collaboratif d'Innovation: the ${SERVICE} service"

RUN groupadd --system --gid 10001 eci \
    && useradd --system --uid 10001 --gid eci --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin eci

# Owned by root and read-only for the service user: the process cannot alter its own code.
COPY --from=build /app/.venv /app/.venv

ENV ECI_SERVICE=${SERVICE} \
    PATH=/app/.venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /app
USER eci:eci

# `exec` makes python PID 1, so it receives docker's SIGTERM and shuts down gracefully
# (within SHUTDOWN_TIMEOUT_S; compose's stop_grace_period is longer).
CMD ["/bin/sh", "-c", "exec python -m \"eci_${ECI_SERVICE}\""]
