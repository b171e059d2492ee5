"""auth-svc settings, read once from the environment."""

from __future__ import annotations

from typing import Annotated

import msgspec

from bodhi_common.service_settings import ServiceSettings


class AuthSettings(ServiceSettings, frozen=True, kw_only=True, rename="upper"):
    """auth-svc settings (variable names are the upper-cased field names)."""

    bodhi_grpc_listen: Annotated[
        str, msgspec.Meta(description="host:port the gRPC server listens on")
    ] = "127.0.0.1:50051"
    bodhi_oidc_issuer: Annotated[
        str | None, msgspec.Meta(description="Issuer URL of the OpenID Connect provider")
    ] = None
