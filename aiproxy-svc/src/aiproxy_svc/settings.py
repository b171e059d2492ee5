"""aiproxy-svc settings, read once from the environment."""

from __future__ import annotations

from typing import Annotated

import msgspec

from bodhi_common.config import Seconds
from bodhi_common.service_settings import VaultClientSettings


class AiProxySettings(VaultClientSettings, frozen=True, kw_only=True, rename="upper"):
    """aiproxy-svc settings (variable names are the upper-cased field names)."""

    bodhi_grpc_listen: Annotated[
        str, msgspec.Meta(description="host:port the gRPC server listens on")
    ] = "127.0.0.1:50054"
    bodhi_model_addr: Annotated[
        str, msgspec.Meta(description="host:port of model-svc (resolves local aliases)")
    ] = "127.0.0.1:50053"
    bodhi_llm_backend_url: Annotated[
        str | None,
        msgspec.Meta(
            description="Base URL of the local OpenAI-compatible server (e.g. llama-server's"
            " http://127.0.0.1:8080/v1) that serves local aliases; unset: local chat answers 503"
        ),
    ] = None
    bodhi_upstream_connect_timeout_seconds: Annotated[
        Seconds, msgspec.Meta(description="Connect timeout of provider calls")
    ] = 10.0
    bodhi_upstream_read_timeout_seconds: Annotated[
        Seconds,
        msgspec.Meta(
            description="Longest silence between two bytes of a provider response (no total"
            " limit: long generations stream on)"
        ),
    ] = 300.0
    bodhi_upstream_max_connections: Annotated[
        int, msgspec.Meta(ge=1, le=10_000, description="Pooled connections to providers")
    ] = 256
    bodhi_api_model_cache_seconds: Annotated[
        Seconds,
        msgspec.Meta(
            le=60,
            description="How long an API model and its key are served from memory (every change"
            " drops them at once on every replica)",
        ),
    ] = 60.0
