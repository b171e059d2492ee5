"""The gateway's settings, read once from the environment."""

from __future__ import annotations

from typing import Annotated

import msgspec

from bodhi_common.config import SECRET, Port, Seconds
from bodhi_common.service_settings import InternalKey, LogLevel

# A chat or embeddings body travels to aiproxy-svc in one gRPC message (at most 16 MiB, see
# bodhi_common.channels); 1 MiB is left for the rest of that message.
MAX_AI_BODY = 15 * 1024 * 1024


def _addr(service: str, port: int) -> msgspec.Meta:
    return msgspec.Meta(description=f"host:port of {service} (default 127.0.0.1:{port})")


class GatewaySettings(msgspec.Struct, frozen=True, kw_only=True, rename="upper"):
    """Gateway settings (variable names are the upper-cased field names)."""

    redis_url: Annotated[str, msgspec.Meta(description="Redis URL for sessions", extra=SECRET)]
    bodhi_internal_key: InternalKey
    bodhi_host: Annotated[str, msgspec.Meta(description="Address the HTTP server binds")] = (
        "127.0.0.1"
    )
    bodhi_port: Annotated[Port, msgspec.Meta(description="Port the HTTP server binds")] = 1135
    bodhi_auth_addr: Annotated[str, _addr("auth-svc", 50051)] = "127.0.0.1:50051"
    bodhi_secret_addr: Annotated[str, _addr("secret-svc", 50052)] = "127.0.0.1:50052"  # noqa: S105
    bodhi_model_addr: Annotated[str, _addr("model-svc", 50053)] = "127.0.0.1:50053"
    bodhi_aiproxy_addr: Annotated[str, _addr("aiproxy-svc", 50054)] = "127.0.0.1:50054"
    bodhi_rpc_timeout_seconds: Annotated[
        Seconds, msgspec.Meta(description="Deadline of a call to a service")
    ] = 10.0
    bodhi_ready_timeout_seconds: Annotated[
        Seconds, msgspec.Meta(description="Deadline of each dependency check behind /ready")
    ] = 0.8
    bodhi_shutdown_grace_seconds: Annotated[
        Seconds, msgspec.Meta(description="Time in-flight requests get to finish on SIGTERM")
    ] = 10.0
    bodhi_keep_alive_seconds: Annotated[
        Seconds,
        msgspec.Meta(
            le=3600,
            description="How long an idle client connection stays open; longer than clients'"
            " own idle limits (5 s in httpx and the OpenAI SDK), so a reused connection is not"
            " closed under a request",
        ),
    ] = 75.0
    bodhi_public_url: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+$",
                description="Public origin, e.g. https://bodhi.example.com (else the request's)",
            ),
        ]
        | None
    ) = None
    bodhi_canonical_redirect: Annotated[
        bool,
        msgspec.Meta(
            description="With BODHI_PUBLIC_URL set, send browsers on another origin there (301)"
        ),
    ] = True
    bodhi_session_idle_seconds: Annotated[
        Seconds, msgspec.Meta(description="A session ends after this long without a request")
    ] = 7200.0
    bodhi_session_absolute_seconds: Annotated[
        Seconds, msgspec.Meta(description="A session ends this long after login, used or not")
    ] = 86400.0
    bodhi_bearer_cache_seconds: Annotated[
        Seconds, msgspec.Meta(le=60, description="How long a verified bearer token is cached")
    ] = 60.0
    bodhi_bearer_stale_seconds: Annotated[
        Seconds,
        msgspec.Meta(
            le=3600,
            description="How long past its cache time a verified bearer token is still accepted"
            " while auth-svc cannot be reached (0: never)",
        ),
    ] = 300.0
    bodhi_invalid_bearer_limit: Annotated[
        int,
        msgspec.Meta(ge=1, description="Invalid bearer tokens per minute per client before 429"),
    ] = 20
    bodhi_failed_login_limit: Annotated[
        int,
        msgspec.Meta(
            ge=1, description="Failed login callbacks per 5 minutes per client before 429"
        ),
    ] = 10
    bodhi_pull_limit: Annotated[
        int, msgspec.Meta(ge=1, description="Model pulls a person may start per minute")
    ] = 30
    bodhi_provider_check_limit: Annotated[
        int,
        msgspec.Meta(
            ge=1, description="API-model tests and model listings (provider calls) per minute"
        ),
    ] = 20
    bodhi_max_body_bytes: Annotated[
        int, msgspec.Meta(ge=1024, description="Largest request body, except chat and embeddings")
    ] = 64 * 1024
    bodhi_max_ai_body_bytes: Annotated[
        int,
        msgspec.Meta(
            ge=1024,
            le=MAX_AI_BODY,
            description="Largest chat or embeddings request body (below the 16 MiB gRPC message)",
        ),
    ] = MAX_AI_BODY
    bodhi_max_header_bytes: Annotated[
        int, msgspec.Meta(ge=4096, description="Largest total size of a request's headers")
    ] = 32 * 1024
    bodhi_trusted_proxies: Annotated[
        str | None,
        msgspec.Meta(
            description="Comma-separated proxy addresses whose X-Forwarded-For is believed"
        ),
    ] = None
    bodhi_log_level: LogLevel = "info"
