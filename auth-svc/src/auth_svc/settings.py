"""auth-svc settings, read once from the environment."""

from __future__ import annotations

from typing import Annotated

import msgspec

from bodhi_common.config import SECRET, Seconds
from bodhi_common.service_settings import VaultClientSettings


class AuthSettings(VaultClientSettings, frozen=True, kw_only=True, rename="upper"):
    """auth-svc settings (variable names are the upper-cased field names)."""

    bodhi_grpc_listen: Annotated[
        str, msgspec.Meta(description="host:port the gRPC server listens on")
    ] = "127.0.0.1:50051"
    bodhi_oidc_issuer: Annotated[
        str | None, msgspec.Meta(description="Issuer URL of the OpenID Connect provider")
    ] = None
    bodhi_oidc_client_id: Annotated[
        str | None,
        msgspec.Meta(description="A pre-provisioned OAuth client id (instead of registering)"),
    ] = None
    bodhi_oidc_client_secret: Annotated[
        str | None,
        msgspec.Meta(description="The pre-provisioned client's secret", extra=SECRET),
    ] = None
    bodhi_oidc_registration_token: Annotated[
        str | None,
        msgspec.Meta(
            description="Initial access token for dynamic client registration (RFC 7591)",
            extra=SECRET,
        ),
    ] = None
    bodhi_provider_timeout_seconds: Annotated[
        Seconds, msgspec.Meta(description="Deadline of each call to the identity provider")
    ] = 10.0

    def __post_init__(self) -> None:
        if (self.bodhi_oidc_client_id is None) != (self.bodhi_oidc_client_secret is None):
            raise ValueError(
                "set both BODHI_OIDC_CLIENT_ID and BODHI_OIDC_CLIENT_SECRET, or neither"
            )
