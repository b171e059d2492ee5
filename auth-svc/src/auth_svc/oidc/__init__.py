"""OpenID Connect relying party: discovery, JWKS, token verification and the OAuth back channel."""

from __future__ import annotations

from auth_svc.oidc.client import ClientCredentials, Registration, TokenSet
from auth_svc.oidc.metadata import ProviderMetadata
from auth_svc.oidc.provider import OidcProvider
from auth_svc.oidc.tokens import AccessClaims, IdClaims

__all__ = [
    "AccessClaims",
    "ClientCredentials",
    "IdClaims",
    "OidcProvider",
    "ProviderMetadata",
    "Registration",
    "TokenSet",
]
