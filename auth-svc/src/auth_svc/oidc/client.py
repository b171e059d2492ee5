"""The OAuth back channel of a confidential client: registration (RFC 7591), token endpoint
grants (code, refresh, RFC 8693 exchange) and revocation (RFC 7009).

Clients authenticate with client_secret_basic; the id and secret are form-urlencoded first as
RFC 6749 §2.3.1 asks (a no-op for the usual URL-safe secrets). No message built here carries a
token, code or secret: provider error text passes only through `provider_error`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from auth_svc.oidc.metadata import TOKEN_EXCHANGE_GRANT, ProviderMetadata
from auth_svc.oidc.transport import Reply, provider_error, request
from bodhi_common.clock import Clock
from bodhi_common.errors import FailedPrecondition, ServiceError

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a URN

Refusal = Callable[[str], ServiceError]
#: Form fields whose values must never be echoed back into a message.
_CREDENTIAL_FIELDS = frozenset({"code", "code_verifier", "refresh_token", "subject_token"})


class ClientCredentials(msgspec.Struct, frozen=True, kw_only=True):
    """This server's client at the provider."""

    client_id: str
    client_secret: str


class TokenSet(msgspec.Struct, frozen=True, kw_only=True):
    """A token endpoint answer, with lifetimes turned into epoch seconds on the injected clock."""

    access_token: str
    #: after a refresh without rotation this is the refresh token that was used (still valid)
    refresh_token: str | None
    id_token: str | None
    expires_at: float | None
    #: Keycloak's refresh_expires_in; None when not sent (or 0: an offline token)
    refresh_expires_at: float | None


class Registration(msgspec.Struct, frozen=True, kw_only=True):
    """A client registered by RFC 7591 dynamic registration."""

    client_id: str
    client_secret: str
    registration_access_token: str | None


def basic_auth(client: ClientCredentials) -> httpx.BasicAuth:
    """client_secret_basic with RFC 6749 §2.3.1 form-urlencoding of both parts."""
    return httpx.BasicAuth(quote(client.client_id, safe=""), quote(client.client_secret, safe=""))


async def register(
    http: httpx.AsyncClient,
    meta: ProviderMetadata,
    *,
    name: str,
    redirect_uris: list[str],
    initial_access_token: str | None,
) -> Registration:
    """Register a confidential web client for the code flow with refresh tokens."""
    if meta.registration_endpoint is None:
        raise FailedPrecondition(
            "the identity provider does not offer dynamic client registration",
            code="registration_unsupported",
        )
    body = {
        "client_name": name,
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "application_type": "web",
    }
    bearer = {"Authorization": f"Bearer {initial_access_token}"} if initial_access_token else {}
    reply = await request(
        http, "POST", meta.registration_endpoint, what="registration", json=body, headers=bearer
    )
    return _registration(reply, (initial_access_token or "",))


def _registration(reply: Reply, sent: tuple[str, ...]) -> Registration:
    def refused(why: str) -> FailedPrecondition:
        return FailedPrecondition(
            f"client registration refused by the identity provider ({why})",
            code="client_registration_failed",
        )

    body = reply.body
    if reply.status not in (200, 201):
        raise refused(provider_error(body, sent=sent))
    client_id, secret = body.get("client_id"), body.get("client_secret")
    if not (isinstance(client_id, str) and client_id and isinstance(secret, str) and secret):
        raise refused("no client credentials in the answer")
    if body.get("token_endpoint_auth_method", "client_secret_basic") != "client_secret_basic":
        raise refused("client_secret_basic not granted")
    token = body.get("registration_access_token")
    return Registration(
        client_id=client_id,
        client_secret=secret,
        registration_access_token=token if isinstance(token, str) and token else None,
    )


async def token_grant(
    http: httpx.AsyncClient,
    meta: ProviderMetadata,
    client: ClientCredentials,
    form: dict[str, str],
    *,
    clock: Clock,
    refused: Refusal,
    keep_refresh: str | None = None,
) -> TokenSet:
    """POST one grant to the token endpoint; a 4xx or a malformed answer raises `refused(why)`."""
    reply = await request(
        http, "POST", meta.token_endpoint, what="token endpoint", data=form, auth=basic_auth(client)
    )
    if reply.status != 200:
        sent = tuple(value for name, value in form.items() if name in _CREDENTIAL_FIELDS)
        raise refused(provider_error(reply.body, sent=(*sent, client.client_secret)))
    return _token_set(reply.body, clock, refused, keep_refresh)


def _token_set(
    body: dict[str, Any], clock: Clock, refused: Refusal, keep_refresh: str | None
) -> TokenSet:
    access = body.get("access_token")
    token_type = body.get("token_type", "Bearer")
    if not isinstance(access, str) or not access:
        raise refused("no access token in the answer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise refused("not a bearer token")
    now = clock.now()
    refresh = _text(body, "refresh_token")
    return TokenSet(
        access_token=access,
        refresh_token=refresh or keep_refresh,
        id_token=_text(body, "id_token"),
        expires_at=_deadline(now, body.get("expires_in")),
        refresh_expires_at=_deadline(now, body.get("refresh_expires_in")) if refresh else None,
    )


def code_form(code: str, code_verifier: str, redirect_uri: str) -> dict[str, str]:
    """The authorization_code grant with its PKCE verifier."""
    return {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": code_verifier,
        "redirect_uri": redirect_uri,
    }


def exchange_form(subject_token: str, audience: str, scopes: list[str]) -> dict[str, str]:
    """RFC 8693: trade an access token for one meant for `audience` with `scopes`."""
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "requested_token_type": ACCESS_TOKEN_TYPE,
        "audience": audience,
    }
    if scopes:
        form["scope"] = " ".join(scopes)
    return form


async def revoke(
    http: httpx.AsyncClient,
    meta: ProviderMetadata,
    client: ClientCredentials,
    token: str,
    hint: str,
) -> bool:
    """RFC 7009 revocation; False when the provider has no revocation endpoint."""
    if meta.revocation_endpoint is None:
        return False
    form = {"token": token, "token_type_hint": hint}
    reply = await request(
        http,
        "POST",
        meta.revocation_endpoint,
        what="revocation",
        data=form,
        auth=basic_auth(client),
    )
    if reply.status != 200:
        why = provider_error(reply.body, sent=(token, client.client_secret))
        raise FailedPrecondition(
            f"token revocation refused by the identity provider ({why})", code="revocation_failed"
        )
    return True


_MAX_LIFETIME = 10 * 365 * 86400.0


def _deadline(now: float, seconds: object) -> float | None:
    """now + a lifetime in seconds; None when absent or not a positive number."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        return None
    # Capped: a huge (or infinite) value is not a time, and float() of a huge int overflows.
    return now + (_MAX_LIFETIME if seconds > _MAX_LIFETIME else float(seconds))


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None
