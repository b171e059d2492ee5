"""Internal call tokens: minted by the caller, verified by the callee, short-lived and bound to
the target service."""

from __future__ import annotations

import pytest

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
