"""The processes that make up the system: one table read by `make run`, the e2e stack and the
deploy checks, so that every way of running the system starts the same entry points."""

from __future__ import annotations

import msgspec


class Component(msgspec.Struct, frozen=True, kw_only=True):
    """One deployable process of the system."""

    name: str  # short name used in logs, compose service names and readiness reports
    module: str  # started as `python -m <module>`
    port: int  # default port on 127.0.0.1 (gRPC for services, HTTP for the gateway)
    database: str | None  # its own PostgreSQL database, or None
    env: tuple[str, ...]  # variables the launcher sets for it (beyond BODHI_LOG_LEVEL)


SERVICES: tuple[Component, ...] = (
    Component(
        name="secret",
        module="secret_svc",
        port=50052,
        database="bodhi_secret",
        env=("DATABASE_URL", "BODHI_INTERNAL_KEY", "BODHI_GRPC_LISTEN", "BODHI_MASTER_KEY_FILE"),
    ),
    Component(
        name="auth",
        module="auth_svc",
        port=50051,
        database="bodhi_auth",
        env=(
            "DATABASE_URL",
            "BODHI_INTERNAL_KEY",
            "BODHI_GRPC_LISTEN",
            "BODHI_OIDC_ISSUER",
            "BODHI_SECRET_ADDR",
        ),
    ),
    Component(
        name="model",
        module="model_svc",
        port=50053,
        database="bodhi_model",
        env=(
            "DATABASE_URL",
            "BODHI_INTERNAL_KEY",
            "BODHI_GRPC_LISTEN",
            "BODHI_SECRET_ADDR",
            "HF_HOME",
        ),
    ),
    Component(
        name="aiproxy",
        module="aiproxy_svc",
        port=50054,
        database="bodhi_aiproxy",
        env=(
            "DATABASE_URL",
            "BODHI_INTERNAL_KEY",
            "BODHI_GRPC_LISTEN",
            "BODHI_SECRET_ADDR",
            "BODHI_MODEL_ADDR",
        ),
    ),
)

GATEWAY = Component(
    name="gateway",
    module="gateway",
    port=1135,
    database=None,
    env=(
        "REDIS_URL",
        "BODHI_INTERNAL_KEY",
        "BODHI_HOST",
        "BODHI_PORT",
        "BODHI_AUTH_ADDR",
        "BODHI_SECRET_ADDR",
        "BODHI_MODEL_ADDR",
        "BODHI_AIPROXY_ADDR",
    ),
)

ALL: tuple[Component, ...] = (*SERVICES, GATEWAY)


def addr_variable(component: Component) -> str:
    """The variable through which other processes find a service, e.g. BODHI_AUTH_ADDR."""
    return f"BODHI_{component.name.upper()}_ADDR"
