"""`OidcProvider`: the relying-party side of one OpenID provider, as auth-svc uses it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx

from auth_svc.oidc.client import (
    ClientCredentials,
    Refusal,
    Registration,
    TokenSet,
    code_form,
    exchange_form,
    register,
    revoke,
    token_grant,
)
from auth_svc.oidc.keys import KeyCache
from auth_svc.oidc.metadata import MetadataCache, ProviderMetadata
from auth_svc.oidc.tokens import AccessClaims, IdClaims, TokenVerifier
from auth_svc.oidc.transport import get_json
from bodhi_common.clock import Clock
from bodhi_common.errors import FailedPrecondition, InvalidArgument, Unauthenticated

#: After a failed discovery or JWKS fetch, wait this long (at most) before the next attempt.
FAILURE_BACKOFF = 5.0
DEFAULT_SCOPE = "openid profile email offline_access"
# BASE64URL(SHA256(verifier)) without padding is always 43 characters (RFC 7636 §4.2).
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


class OidcProvider:
    """Discovery, keys, token verification and the back channel of one issuer.

    Every outbound request uses the caller's `http` client (its timeouts apply). The JWK Set is
    re-read after `metadata_ttl` like discovery, and after an unknown `kid` at most once per
    `jwks_cooldown` seconds.
    """

    def __init__(
        self,
        issuer: str,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        jwks_cooldown: float = 30.0,
        metadata_ttl: float = 3600.0,
        leeway: float = 60.0,
        algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256"),
    ) -> None:
        if urlsplit(issuer).scheme not in ("http", "https") or not urlsplit(issuer).netloc:
            raise ValueError("the OIDC issuer must be an http(s) URL")
        backoff = min(FAILURE_BACKOFF, jwks_cooldown)
        self._http = http
        self._clock = clock
        self._metadata = MetadataCache(issuer, http, clock, ttl=metadata_ttl, backoff=backoff)
        keys = KeyCache(
            self._load_keys, clock, cooldown=jwks_cooldown, backoff=backoff, max_age=metadata_ttl
        )
        self._verifier = TokenVerifier(keys, clock, algorithms=algorithms, leeway=leeway)

    async def metadata(self) -> ProviderMetadata:
        """The provider's discovery metadata (cached; the last good copy while it is down)."""
        return await self._metadata.get()

    def authorization_url(
        self,
        meta: ProviderMetadata,
        *,
        client_id: str,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_challenge: str,
        scope: str = DEFAULT_SCOPE,
    ) -> str:
        """The authorization request of the code flow with PKCE S256."""
        if not (state and nonce and _S256_CHALLENGE.fullmatch(code_challenge)):
            raise InvalidArgument(
                "a login needs a state, a nonce and an S256 code challenge",
                code="invalid_authorization_request",
            )
        ours = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return _with_query(meta.authorization_endpoint, ours)

    async def register_client(
        self, *, name: str, redirect_uris: list[str], initial_access_token: str | None
    ) -> Registration:
        """RFC 7591 registration of this server as a confidential client."""
        meta = await self.metadata()
        return await register(
            self._http,
            meta,
            name=name,
            redirect_uris=redirect_uris,
            initial_access_token=initial_access_token,
        )

    async def exchange_code(
        self, client: ClientCredentials, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenSet:
        """Trade an authorization code (and its PKCE verifier) for tokens."""

        def refused(why: str) -> InvalidArgument:
            return InvalidArgument(
                f"the identity provider refused the authorization code ({why})",
                code="code_exchange_failed",
            )

        form = code_form(code, code_verifier, redirect_uri)
        return await self._grant(client, form, refused)

    async def refresh(self, client: ClientCredentials, refresh_token: str) -> TokenSet:
        """New tokens for a refresh token (rotated when the provider rotates)."""

        def refused(why: str) -> Unauthenticated:
            return Unauthenticated(
                f"the identity provider refused the refresh token ({why})", code="refresh_failed"
            )

        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._grant(client, form, refused, keep_refresh=refresh_token)

    async def revoke(
        self, client: ClientCredentials, token: str, hint: str = "refresh_token"
    ) -> bool:
        """RFC 7009 revocation; False when the provider has no revocation endpoint."""
        return await revoke(self._http, await self.metadata(), client, token, hint)

    async def verify_id_token(
        self, id_token: str, *, client_id: str, nonce: str | None
    ) -> IdClaims:
        """Signature (JWKS), iss, aud, azp, sub, iat, exp and nonce of an ID token.

        `nonce=None` only for the ID token of a refresh response (see `TokenVerifier.id_token`).
        """
        meta = await self.metadata()
        return await self._verifier.id_token(
            id_token, issuer=meta.issuer, client_id=client_id, nonce=nonce
        )

    async def verify_access_token(self, token: str) -> AccessClaims:
        """Signature (JWKS), iss, exp, nbf and typ of a JWT access token; not its audience."""
        meta = await self.metadata()
        return await self._verifier.access_token(token, issuer=meta.issuer)

    async def exchange_token(
        self, client: ClientCredentials, *, subject_token: str, audience: str, scopes: list[str]
    ) -> TokenSet:
        """RFC 8693 token exchange, only where the provider advertises it."""
        meta = await self.metadata()
        if not meta.token_exchange_supported:
            raise FailedPrecondition(
                "the identity provider does not offer token exchange",
                code="token_exchange_unsupported",
            )

        def refused(why: str) -> Unauthenticated:
            return Unauthenticated(
                f"the identity provider refused the token exchange ({why})",
                code="token_exchange_failed",
            )

        form = exchange_form(subject_token, audience, scopes)
        return await self._grant(client, form, refused, meta=meta)

    async def _grant(
        self,
        client: ClientCredentials,
        form: dict[str, str],
        refused: Refusal,
        *,
        keep_refresh: str | None = None,
        meta: ProviderMetadata | None = None,
    ) -> TokenSet:
        meta = meta or await self.metadata()
        return await token_grant(
            self._http,
            meta,
            client,
            form,
            clock=self._clock,
            refused=refused,
            keep_refresh=keep_refresh,
        )

    async def _load_keys(self) -> dict[str, Any]:
        meta = await self.metadata()
        return await get_json(self._http, meta.jwks_uri, what="signing keys")


def _with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` added (percent-encoded, spaces as %20); they win over its own."""
    parts = urlsplit(url)
    # Keep the endpoint's own query (e.g. a policy selector).
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*kept, *params.items()], quote_via=quote)))
