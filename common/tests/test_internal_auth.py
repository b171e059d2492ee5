"""Internal call tokens: minted by the caller, verified by the callee, short-lived and bound to
the target service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from bodhi_common.clock import ManualClock
from bodhi_common.context import Caller, Principal, request_id_var
from bodhi_common.errors import Unauthenticated
from bodhi_common.internal_auth import InternalAuth

KEY = "an-internal-key-of-at-least-32-bytes!"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_a_token_names_the_caller_and_the_principal(clock: ManualClock) -> None:
    gateway = InternalAuth(KEY, "gateway", clock)
    auth = InternalAuth(KEY, "auth", clock)
    alice = Principal(sub="alice", role="resource_admin")
    caller = auth.verify("Bearer " + gateway.mint("auth", alice))
    assert caller == Caller(service="gateway", principal=alice)


def test_a_token_for_one_service_is_refused_by_another(clock: ManualClock) -> None:
    token = InternalAuth(KEY, "gateway", clock).mint("auth")
    with pytest.raises(Unauthenticated):
        InternalAuth(KEY, "secret", clock).verify("Bearer " + token)


def test_a_token_signed_with_another_key_is_refused(clock: ManualClock) -> None:
    token = InternalAuth("x" * 40, "gateway", clock).mint("auth")
    with pytest.raises(Unauthenticated) as caught:
        InternalAuth(KEY, "auth", clock).verify("Bearer " + token)
    assert caught.value.code == "internal_auth_invalid"


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer not-a-jwt"])
def test_missing_or_malformed_credentials_are_refused(
    clock: ManualClock, header: str | None
) -> None:
    with pytest.raises(Unauthenticated):
        InternalAuth(KEY, "auth", clock).verify(header)


def test_tokens_expire_after_a_minute_even_once_cached(clock: ManualClock) -> None:
    gateway = InternalAuth(KEY, "gateway", clock)
    auth = InternalAuth(KEY, "auth", clock)
    header = "Bearer " + gateway.mint("auth")
    auth.verify(header)  # now cached
    clock.advance(60 + 6)
    with pytest.raises(Unauthenticated):
        auth.verify(header)


def test_the_caller_reuses_a_token_for_half_its_life_then_mints_anew(clock: ManualClock) -> None:
    gateway = InternalAuth(KEY, "gateway", clock)
    first = gateway.mint("auth")
    clock.advance(20)
    assert gateway.mint("auth") == first
    clock.advance(15)
    assert gateway.mint("auth") != first


def test_metadata_carries_the_token_and_the_current_request_id(clock: ManualClock) -> None:
    gateway = InternalAuth(KEY, "gateway", clock)
    token = request_id_var.set("req-123")
    try:
        metadata = dict(gateway.metadata("auth"))
    finally:
        request_id_var.reset(token)
    assert metadata["x-request-id"] == "req-123"
    assert metadata["authorization"].startswith("Bearer ")


def test_a_short_key_is_refused(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        InternalAuth("short", "auth", clock)


# The tokens are standard compact JWS (RFC 7515/7519), made with the standard library's hmac:
# a JOSE library (joserfc, which auth-svc uses for OIDC) must read ours and we must read its.


def test_a_jose_library_verifies_our_tokens(clock: ManualClock) -> None:
    token = InternalAuth(KEY, "gateway", clock).mint("auth", Principal(sub="alice", role=None))
    decoded = jwt.decode(token, OctKey.import_key(KEY.encode()), algorithms=["HS256"])
    assert decoded.header == {"typ": "JWT", "alg": "HS256"}
    assert decoded.claims["iss"] == "gateway"
    assert decoded.claims["aud"] == "auth"
    assert decoded.claims["sub"] == "alice"
    assert decoded.claims["exp"] - decoded.claims["iat"] == 60


def _claims(clock: ManualClock) -> dict[str, object]:
    now = int(clock.now())
    return {"iss": "gateway", "aud": "auth", "iat": now, "exp": now + 60, "sub": "bob"}


def jose_token(clock: ManualClock, key: str = KEY) -> str:
    return jwt.encode({"alg": "HS256"}, _claims(clock), OctKey.import_key(key.encode()))


def test_we_verify_a_jose_library_s_tokens(clock: ManualClock) -> None:
    caller = InternalAuth(KEY, "auth", clock).verify("Bearer " + jose_token(clock))
    assert caller == Caller(service="gateway", principal=Principal(sub="bob"))


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda c: _signed(c, {"alg": "HS512"}), id="another algorithm named"),
        pytest.param(lambda c: jose_token(c, key="y" * 40), id="another key"),
        pytest.param(lambda c: _signed(c, {"alg": "HS256", "crit": ["b64"]}), id="crit"),
        pytest.param(lambda c: _unsigned(jose_token(c)), id="alg none, no signature"),
        pytest.param(lambda c: _swap_payload(jose_token(c)), id="payload swapped"),
        pytest.param(lambda c: jose_token(c) + "=", id="padding"),
        pytest.param(lambda c: "e30." * 2000 + "x", id="oversize"),
    ],
)
def test_tokens_that_are_not_ours_exactly_are_refused(
    clock: ManualClock, forge: Callable[[ManualClock], str]
) -> None:
    with pytest.raises(Unauthenticated) as caught:
        InternalAuth(KEY, "auth", clock).verify("Bearer " + forge(clock))
    assert caught.value.code == "internal_auth_invalid"


def _b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _signed(clock: ManualClock, header: dict[str, object]) -> str:
    """Signed with our key and HS256 whatever the header names: only the header is wrong."""
    signing_input = f"{_b64(header)}.{_b64(_claims(clock))}"
    mac = hmac.digest(KEY.encode(), signing_input.encode(), hashlib.sha256)
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _unsigned(token: str) -> str:
    none = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    return f"{none}.{token.split('.')[1]}."


def _swap_payload(token: str) -> str:
    header, _, signature = token.split(".")
    other = base64.urlsafe_b64encode(b'{"iss":"gateway","aud":"auth","sub":"root"}').rstrip(b"=")
    return f"{header}.{other.decode()}.{signature}"
