"""Internal call tokens (ARCHITECTURE §4): short-lived HS256 JWTs minted by the caller with the
deployment's shared key, naming the calling service, the target service and, when a person or a
token stands behind the call, that principal.

Both sides cache: a caller reuses a token for half its life, and a callee remembers tokens it has
already verified until they expire, so the hot path costs a dict lookup, not an HMAC.

The JWS is made and checked with the standard library's hmac (RFC 7515 compact form, one
algorithm, no header parameter is honoured but `alg`), not a JOSE library: joserfc loads
cryptography's OpenSSL bindings, about 10 MB of resident memory in every process for one HMAC
(PERFORMANCE.md P9). The tests check both directions against joserfc.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections import OrderedDict
from typing import Any

import msgspec

from bodhi_common.clock import Clock
from bodhi_common.context import REQUEST_ID_KEY, Caller, Principal, request_id_var
from bodhi_common.errors import Unauthenticated

MIN_KEY_BYTES = 32
TOKEN_TTL_SECONDS = 60
LEEWAY_SECONDS = 5
_CACHE_SIZE = 4096
_MAX_TOKEN_CHARS = 4096
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_HEADER = b"eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9"  # {"typ":"JWT","alg":"HS256"}, as joserfc writes
_json_decode = msgspec.json.Decoder(dict[str, Any]).decode

Metadata = tuple[tuple[str, str], ...]


class InternalAuth:
    """Mints tokens for calls this service makes and verifies tokens of calls it receives."""

    def __init__(self, key: str, service: str, clock: Clock, ttl: int = TOKEN_TTL_SECONDS) -> None:
        if len(key.encode()) < MIN_KEY_BYTES:
            raise ValueError(f"the internal key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key.encode()
        self.service = service
        self._clock = clock
        self._ttl = ttl
        self._minted: dict[tuple[str, Principal | None], tuple[str, float]] = {}
        self._verified: OrderedDict[str, tuple[Caller, float]] = OrderedDict()

    def mint(self, audience: str, principal: Principal | None = None) -> str:
        """A token for a call to `audience`, reused while it has more than half its life left."""
        now = self._clock.now()
        cached = self._minted.get((audience, principal))
        if cached is not None and cached[1] - now > self._ttl / 2:
            return cached[0]
        exp = int(now) + self._ttl
        claims: dict[str, object] = {
            "iss": self.service,
            "aud": audience,
            "iat": int(now),
            "exp": exp,
        }
        if principal is not None:
            claims["sub"] = principal.sub
            if principal.role is not None:
                claims["role"] = principal.role
            if principal.scope is not None:
                claims["scope"] = principal.scope
        token = self._sign(claims)
        if len(self._minted) >= _CACHE_SIZE:
            self._minted.clear()
        self._minted[(audience, principal)] = (token, exp)
        return token

    def metadata(self, audience: str, principal: Principal | None = None) -> Metadata:
        """gRPC metadata for one outgoing call: the token and the current request id."""
        md: Metadata = (("authorization", "Bearer " + self.mint(audience, principal)),)
        request_id = request_id_var.get()
        if request_id is not None:
            md += ((REQUEST_ID_KEY, request_id),)
        return md

    def verify(self, authorization: str | None) -> Caller:
        """The caller named by a valid `Bearer <token>` for this service, else Unauthenticated."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthenticated("missing internal credentials", code="internal_auth_missing")
        token = authorization[7:]
        now = self._clock.now()
        hit = self._verified.get(token)
        if hit is not None and now < hit[1] + LEEWAY_SECONDS:
            return hit[0]
        caller, exp = self._decode(token, now)
        if len(self._verified) >= _CACHE_SIZE:
            self._verified.popitem(last=False)
        self._verified[token] = (caller, exp)
        return caller

    def _sign(self, claims: dict[str, object]) -> str:
        signing_input = _HEADER + b"." + _b64encode(msgspec.json.encode(claims))
        signature = hmac.digest(self._key, signing_input, hashlib.sha256)
        return (signing_input + b"." + _b64encode(signature)).decode("ascii")

    def _claims(self, token: str) -> dict[str, Any]:
        """The claims of a compact HS256 JWS signed with our key; ValueError otherwise."""
        if len(token) > _MAX_TOKEN_CHARS or not _COMPACT.fullmatch(token):
            raise ValueError("not a compact JWS")
        header, payload, signature = token.split(".")
        signing_input = f"{header}.{payload}".encode("ascii")
        expected = hmac.digest(self._key, signing_input, hashlib.sha256)
        if not hmac.compare_digest(_b64decode(signature), expected):
            raise ValueError("bad signature")
        fields = _json_decode(_b64decode(header))
        if fields.get("alg") != "HS256" or "crit" in fields:
            raise ValueError("unexpected header")
        return _json_decode(_b64decode(payload))

    def _decode(self, token: str, now: float) -> tuple[Caller, float]:
        try:
            claims = self._claims(token)
        except (ValueError, binascii.Error, msgspec.DecodeError) as exc:
            raise Unauthenticated(
                "invalid internal credentials", code="internal_auth_invalid"
            ) from exc
        exp, iat = claims.get("exp"), claims.get("iat")
        valid = (
            isinstance(exp, int)
            and isinstance(iat, int)
            and now < exp + LEEWAY_SECONDS
            and iat <= now + LEEWAY_SECONDS
            and exp - iat <= self._ttl
            and claims.get("aud") == self.service
            and isinstance(claims.get("iss"), str)
        )
        if not valid:
            raise Unauthenticated("invalid internal credentials", code="internal_auth_invalid")
        return Caller(service=claims["iss"], principal=_principal(claims)), float(exp)  # type: ignore[arg-type]


def _principal(claims: dict[str, object]) -> Principal | None:
    sub = claims.get("sub")
    if not isinstance(sub, str):
        return None
    role, scope = claims.get("role"), claims.get("scope")
    return Principal(
        sub=sub,
        role=role if isinstance(role, str) else None,
        scope=scope if isinstance(scope, str) else None,
    )


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
