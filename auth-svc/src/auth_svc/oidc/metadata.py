"""OpenID discovery: the provider's metadata, checked against the configured issuer and cached."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from auth_svc.oidc.transport import get_json, unavailable
from bodhi_common.clock import Clock
from bodhi_common.errors import FailedPrecondition, ServiceError

log = logging.getLogger(__name__)

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN


class ProviderMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """What this service uses of an OpenID provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str | None
    revocation_endpoint: str | None
    end_session_endpoint: str | None
    #: RFC 9207: the authorization response carries `iss` (the gateway must then check it).
    iss_parameter_supported: bool
    #: RFC 8693 token exchange is listed in `grant_types_supported`.
    token_exchange_supported: bool


def discovery_url(issuer: str) -> str:
    """OpenID Connect Discovery 1.0 §4: the issuer with `/.well-known/openid-configuration`."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def parse_metadata(doc: dict[str, Any], issuer: str) -> ProviderMetadata:
    """Check a discovery document: exact issuer, absolute endpoint URLs (https if the issuer is)."""
    if doc.get("issuer") != issuer:
        # Discovery §4.3: a document for another issuer is a mix-up or a misconfiguration.
        raise FailedPrecondition(
            "the identity provider's discovery document names another issuer",
            code="issuer_mismatch",
        )
    secure = issuer.startswith("https://")
    grants = doc.get("grant_types_supported")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=_url(doc, "authorization_endpoint", secure),
        token_endpoint=_url(doc, "token_endpoint", secure),
        jwks_uri=_url(doc, "jwks_uri", secure),
        registration_endpoint=_optional_url(doc, "registration_endpoint", secure),
        revocation_endpoint=_optional_url(doc, "revocation_endpoint", secure),
        end_session_endpoint=_optional_url(doc, "end_session_endpoint", secure),
        iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported") is True,
        token_exchange_supported=isinstance(grants, list) and TOKEN_EXCHANGE_GRANT in grants,
    )


def _url(doc: dict[str, Any], name: str, secure: bool) -> str:
    value = _optional_url(doc, name, secure)
    if value is None:
        raise _invalid(name)
    return value


def _optional_url(doc: dict[str, Any], name: str, secure: bool) -> str | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise _invalid(name)
    parts = urlsplit(value)
    schemes = ("https",) if secure else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc or parts.fragment:
        raise _invalid(name)
    return value


def _invalid(name: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"the identity provider's discovery document has no valid {name}",
        code="provider_metadata_invalid",
    )


class MetadataCache:
    """Discovery fetched once per `ttl`; the last good document is kept while the provider is down.

    After a failed fetch the next attempt waits `backoff` seconds, so an outage costs one request
    per `backoff` rather than one per caller.
    """

    def __init__(
        self, issuer: str, http: httpx.AsyncClient, clock: Clock, *, ttl: float, backoff: float
    ) -> None:
        self._issuer = issuer
        self._http = http
        self._clock = clock
        self._ttl = ttl
        self._backoff = backoff
        self._meta: ProviderMetadata | None = None
        self._fresh_until = -math.inf
        self._retry_at = -math.inf
        self._error: ServiceError | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> ProviderMetadata:
        """The current metadata (fetched when missing or older than the TTL)."""
        meta = self._meta
        if meta is not None and (
            self._clock.monotonic() < self._fresh_until or self._lock.locked()
        ):
            return meta  # fresh, or stale while one caller refreshes: nobody else waits on it
        async with self._lock:  # single flight: concurrent callers share one fetch
            now = self._clock.monotonic()
            if now >= self._fresh_until and now >= self._retry_at:
                await self._refresh(now)
            if self._meta is None:
                raise _again(self._error)
            return self._meta

    async def _refresh(self, now: float) -> None:
        try:
            doc = await get_json(self._http, discovery_url(self._issuer), what="discovery")
            meta = parse_metadata(doc, self._issuer)
        except ServiceError as exc:
            self._error, self._retry_at = exc, now + self._backoff
            if self._meta is not None:
                log.warning("oidc discovery failed, keeping the last good metadata: %s", exc)
            return
        self._meta, self._error = meta, None
        self._fresh_until = now + self._ttl


def _again(error: ServiceError | None) -> ServiceError:
    """A fresh copy of the last fetch error (re-raising one instance would pile up tracebacks)."""
    if error is None:
        return unavailable("discovery")
    return type(error)(error.message, code=error.code, param=error.param)
