"""ID token and JWT access token verification (reliability-security.md A3, G7, A5).

joserfc does the JWS work with an explicit algorithm allow-list; keys come only from the
provider's JWK Set (`KeyCache`). `jku`, `x5u`, `x5c` and `jwk` headers are never looked at, `crit`
is refused outright (we implement no extension), and joserfc bounds the header at 512 bytes.
When a token has no `kid` every cached key that fits its algorithm is tried: the OpenID
conformance suite allows that or a refusal, and trying keeps providers that omit `kid` working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from joserfc import jws
from joserfc.errors import (
    ClaimError,
    ExceededSizeError,
    ExpiredTokenError,
    InvalidHeaderValueError,
    JoseError,
    MissingCritHeaderError,
    MissingHeaderError,
    UnsupportedAlgorithmError,
    UnsupportedHeaderError,
)
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry

from auth_svc.oidc.keys import KEY_TYPE_OF, KeyCache, PublicKey
from bodhi_common.clock import Clock
from bodhi_common.errors import Unauthenticated

ID_TOKEN_INVALID = "id_token_invalid"  # noqa: S105 - an error code
ACCESS_TOKEN_INVALID = "access_token_invalid"  # noqa: S105 - an error code
# Header `typ` values: RFC 9068 names access tokens; ID tokens carry plain JWT or none at all.
_ACCESS_TYPES = (None, "jwt", "at+jwt", "application/at+jwt")
_ID_TYPES = (None, "jwt")
# Keycloak's `typ` claim tells its token kinds apart: only its own kind may pass.
_ACCESS_TYP_CLAIM = (None, "bearer")
_ID_TYP_CLAIM = (None, "id")
_HEADER_ERRORS = (
    InvalidHeaderValueError,
    MissingCritHeaderError,
    MissingHeaderError,
    UnsupportedHeaderError,
)
_REASONS = {
    "iss": "issuer",
    "aud": "audience",
    "sub": "subject",
    "exp": "expiry",
    "iat": "issued_at",
    "nbf": "not_yet_valid",
    "nonce": "nonce",
}


class IdClaims(msgspec.Struct, frozen=True, kw_only=True):
    """Who logged in, from a verified ID token."""

    issuer: str
    subject: str
    #: preferred_username, else email, else sub
    username: str
    email: str | None
    first_name: str | None
    last_name: str | None
    expires_at: float


class AccessClaims(msgspec.Struct, frozen=True, kw_only=True):
    """A verified JWT access token (a third-party app calling our API)."""

    issuer: str
    subject: str
    #: `azp`, else the RFC 9068 `client_id` claim
    client_id: str
    audience: list[str]
    scopes: list[str]
    expires_at: float
    username: str | None


class TokenVerifier:
    """Signature, header and claim checks against one provider's keys."""

    def __init__(
        self, keys: KeyCache, clock: Clock, *, algorithms: tuple[str, ...], leeway: float
    ) -> None:
        unsafe = [alg for alg in algorithms if alg not in KEY_TYPE_OF]
        if unsafe or not algorithms:
            raise ValueError(f"only asymmetric signature algorithms are allowed, not {unsafe}")
        self._keys = keys
        self._clock = clock
        self._leeway = leeway
        # Unregistered header parameters are ignored (RFC 7515 §4); `crit` is refused below.
        self._registry = jws.JWSRegistry(algorithms=list(algorithms), strict_check_header=False)

    async def id_token(
        self, token: str, *, issuer: str, client_id: str, nonce: str | None
    ) -> IdClaims:
        """Verify an ID token issued to `client_id` for the login that sent `nonce`.

        `nonce=None` is for a refresh response (OIDC Core §12.2), whose ID token may repeat the
        login's nonce or carry none: the caller then compares the subject with the session's.
        """
        fail = _failure(ID_TOKEN_INVALID, "id_token")
        header, claims = await self._verified(token, fail)
        _check_type(header, claims, (_ID_TYPES, _ID_TYP_CLAIM), fail)
        if nonce == "":
            raise fail("nonce")  # a login always sends one: "" is a caller bug, never a match
        expected = {"iss": _equals(issuer), "aud": _equals(client_id)}
        if nonce is not None:
            expected["nonce"] = _equals(nonce)
        required = dict.fromkeys(("sub", "iat", "exp"), _required())
        self._check(claims, fail, {**required, **expected})
        _check_azp(claims, client_id, fail)
        return IdClaims(
            issuer=issuer,
            subject=claims["sub"],
            username=_text(claims, "preferred_username") or _text(claims, "email") or claims["sub"],
            email=_text(claims, "email"),
            first_name=_text(claims, "given_name"),
            last_name=_text(claims, "family_name"),
            expires_at=_expiry(claims, fail),
        )

    async def access_token(self, token: str, *, issuer: str) -> AccessClaims:
        """Verify a JWT access token of this provider; audience checks are the caller's."""
        fail = _failure(ACCESS_TOKEN_INVALID, "access token")
        header, claims = await self._verified(token, fail)
        _check_type(header, claims, (_ACCESS_TYPES, _ACCESS_TYP_CLAIM), fail)
        self._check(claims, fail, {"iss": _equals(issuer), "sub": _required(), "exp": _required()})
        aud = claims.get("aud")
        return AccessClaims(
            issuer=issuer,
            subject=claims["sub"],
            client_id=_client_of(claims, fail),
            audience=[aud] if isinstance(aud, str) else list(aud or []),
            scopes=_scopes(claims),
            expires_at=_expiry(claims, fail),
            username=_text(claims, "preferred_username"),
        )

    async def _verified(
        self, token: str, fail: Callable[[str], Unauthenticated]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The header and claims of a token whose signature checks out with a provider key."""
        try:
            signed = jws.extract_compact(token.encode("ascii"), registry=self._registry)
            header = signed.headers()
            if "crit" in header or "b64" in header:
                raise fail("header")
            self._registry.check_header(header)
            alg = self._registry.get_alg(header["alg"]).name
        except (JoseError, UnicodeError, ValueError, TypeError) as exc:
            raise fail(_header_reason(exc)) from None
        for key in await self._keys.candidates(header.get("kid"), alg):
            if self._signature_ok(signed, key):
                return header, _claims(signed.payload, fail)
        raise fail("signature")

    def _signature_ok(self, signed: jws.CompactSignature, key: PublicKey) -> bool:
        try:
            return jws.validate_compact(signed, key, registry=self._registry)
        except JoseError:  # the key does not fit the algorithm (type, curve, size)
            return False

    def _check(
        self,
        claims: dict[str, Any],
        fail: Callable[[str], Unauthenticated],
        options: dict[str, ClaimsOption],
    ) -> None:
        """Registered claims by joserfc, on our clock with our leeway."""
        registry = JWTClaimsRegistry(
            now=lambda: int(self._clock.now()), leeway=int(self._leeway), **options
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise fail("expired") from None
        except ClaimError as exc:
            missing = exc.claim.split(",")[0]
            prefix = "missing " if exc.error == "missing_claim" else ""
            raise fail(prefix + _REASONS.get(missing, "claims")) from None


def _failure(code: str, kind: str) -> Callable[[str], Unauthenticated]:
    def fail(reason: str) -> Unauthenticated:
        return Unauthenticated(f"{kind} rejected: {reason}", code=code)

    return fail


def _header_reason(exc: Exception) -> str:
    if isinstance(exc, UnsupportedAlgorithmError):
        return "algorithm"
    if isinstance(exc, ExceededSizeError):
        return "size"
    return "header" if isinstance(exc, _HEADER_ERRORS) else "malformed"


def _claims(payload: bytes | None, fail: Callable[[str], Unauthenticated]) -> dict[str, Any]:
    try:
        claims = msgspec.json.decode(payload or b"")
    except (msgspec.DecodeError, RecursionError):
        raise fail("malformed") from None
    if not isinstance(claims, dict):
        raise fail("malformed")
    return claims


def _equals(value: str) -> ClaimsOption:
    return {"essential": True, "value": value}


def _required() -> ClaimsOption:
    return {"essential": True}


def _check_type(
    header: dict[str, Any],
    claims: dict[str, Any],
    allowed: tuple[tuple[str | None, ...], tuple[str | None, ...]],
    fail: Callable[[str], Unauthenticated],
) -> None:
    """The header `typ` and Keycloak's `typ` claim: an ID token is no access token and back."""
    if _lower(header.get("typ")) not in allowed[0] or _lower(claims.get("typ")) not in allowed[1]:
        raise fail("type")


def _check_azp(
    claims: dict[str, Any], client_id: str, fail: Callable[[str], Unauthenticated]
) -> None:
    """OIDC Core 3.1.3.7: several audiences need `azp`; an `azp` must name us."""
    azp = claims.get("azp")
    several = isinstance(claims["aud"], list) and len(claims["aud"]) > 1
    if (azp is None and several) or (azp is not None and azp != client_id):
        raise fail("authorized_party")


def _client_of(claims: dict[str, Any], fail: Callable[[str], Unauthenticated]) -> str:
    """The app the token was issued to: `azp` and `client_id` must agree when both are present."""
    azp, client_id = _text(claims, "azp"), _text(claims, "client_id")
    if (azp and client_id and azp != client_id) or not (azp or client_id):
        raise fail("client")
    return azp or client_id or ""


def _scopes(claims: dict[str, Any]) -> list[str]:
    """`scope` (RFC 9068: space separated) or `scp` (a list, as some providers send)."""
    scope = claims.get("scope", claims.get("scp"))
    if isinstance(scope, str):
        return scope.split()
    if isinstance(scope, list):
        return [s for s in scope if isinstance(s, str)]
    return []


def _text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _lower(value: object) -> str | None:
    """A `typ` value for comparison; a non-string one matches nothing we accept."""
    if value is None or isinstance(value, str):
        return value.lower() if value else value
    return "?"


def _expiry(claims: dict[str, Any], fail: Callable[[str], Unauthenticated]) -> float:
    try:
        return float(claims["exp"])
    except OverflowError:  # an integer beyond float range: not a time we can reason about
        raise fail("expiry") from None
