"""The settings every gRPC service reads; each service extends this Struct with its own."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from bodhi_common.config import SECRET, Seconds

LogLevel = Annotated[
    Literal["error", "warn", "info", "debug", "trace"], msgspec.Meta(description="Log level")
]
InternalKey = Annotated[
    str,
    msgspec.Meta(
        min_length=32,
        description="Shared key (at least 32 bytes) that signs internal call tokens",
        extra=SECRET,
    ),
]


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True, rename="upper"):
    """Common settings of a gRPC service (variable names are the upper-cased field names)."""

    database_url: Annotated[
        str, msgspec.Meta(description="PostgreSQL URL of this service's own database", extra=SECRET)
    ]
    bodhi_internal_key: InternalKey
    bodhi_grpc_listen: Annotated[
        str, msgspec.Meta(description="host:port the gRPC server listens on")
    ] = "127.0.0.1:0"
    bodhi_metrics_listen: Annotated[
        str | None,
        msgspec.Meta(
            description="host:port of the Prometheus /metrics listener"
            " (unset: the gRPC host, its port + 1000)"
        ),
    ] = None
    bodhi_log_level: LogLevel = "info"
    bodhi_shutdown_grace_seconds: Annotated[
        Seconds, msgspec.Meta(description="Time in-flight calls get to finish on SIGTERM")
    ] = 10.0
    bodhi_grpc_max_concurrent_rpcs: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=100_000,
            description="Calls (streams included) served at once; beyond it a call is refused"
            " at once with RESOURCE_EXHAUSTED instead of queueing without bound",
        ),
    ] = 1000
    bodhi_db_pool_size: Annotated[
        int, msgspec.Meta(ge=1, le=50, description="Largest number of database connections")
    ] = 10
    bodhi_db_connect_timeout_seconds: Annotated[
        Seconds, msgspec.Meta(description="How long start-up waits for the database")
    ] = 10.0


class VaultClientSettings(ServiceSettings, frozen=True, kw_only=True, rename="upper"):
    """Settings of a service that keeps secrets in secret-svc."""

    bodhi_secret_addr: Annotated[str, msgspec.Meta(description="host:port of secret-svc")] = (
        "127.0.0.1:50052"  # noqa: S105 - an address, not a secret
    )
    bodhi_rpc_timeout_seconds: Annotated[
        Seconds, msgspec.Meta(description="Deadline of a call to another service")
    ] = 5.0
