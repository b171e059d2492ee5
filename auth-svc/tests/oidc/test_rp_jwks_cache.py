"""G8 and the issue's cache rules: key rotation, the unknown-`kid` refetch limit counted at the
provider, the last good keys and metadata during an outage, and JWK Set hygiene."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest
from conftest import Keyring
from evil_op import CLIENT_ID, NONCE, EvilOp

from auth_svc.oidc import OidcProvider
from bodhi_common.clock import ManualClock
from bodhi_common.errors import ServiceError, Unauthenticated, Unavailable

DISCOVERY = "/.well-known/openid-configuration"


async def verify(rp: OidcProvider, token: str) -> str:
    return (await rp.verify_id_token(token, client_id=CLIENT_ID, nonce=NONCE)).subject


async def outcome(rp: OidcProvider, token: str) -> str:
    """The subject, or the error code and message, of one verification."""
    try:
        return await verify(rp, token)
    except ServiceError as exc:
        return f"{type(exc).__name__}:{exc.code}:{exc.message}"


async def test_key_rotated_just_before_signing(
    rp: OidcProvider, evil: EvilOp, keyring: Keyring
) -> None:
    assert await verify(rp, evil.mint(evil.id_claims())) == "user-1"
    assert evil.hits["/jwks"] == 1
    evil.keys = [keyring.rsa2]  # the old key is gone, the token uses the new one
    assert await verify(rp, evil.mint(evil.id_claims())) == "user-1"
    assert evil.hits["/jwks"] == 2
    assert await verify(rp, evil.mint(evil.id_claims())) == "user-1"
    assert evil.hits["/jwks"] == 2


async def test_random_kids_cost_one_fetch_per_cooldown(
    rp: OidcProvider, evil: EvilOp, keyring: Keyring, clock: ManualClock
) -> None:
    valid = evil.mint(evil.id_claims())
    await verify(rp, valid)

    def burst() -> list[str]:
        claims = evil.id_claims()
        return [
            evil.mint(claims, key=keyring.attacker_rsa, kid=secrets.token_urlsafe(12))
            for _ in range(200)
        ]

    for round_ in (1, 2):
        before = evil.hits["/jwks"]
        results = await asyncio.gather(*(outcome(rp, token) for token in burst()))
        # Every one a typed 401-class refusal: no Unavailable/Internal (no 5xx at the gateway).
        assert set(results) == {"Unauthenticated:id_token_invalid:id_token rejected: signature"}
        assert evil.hits["/jwks"] == before + 1, f"round {round_}"
        clock.advance(10)
        assert await outcome(rp, burst()[0]) == results[0]  # still inside the cooldown
        assert evil.hits["/jwks"] == before + 1
        assert await verify(rp, evil.mint(evil.id_claims())) == "user-1"
        clock.advance(21)  # 31 s since the refetch: the next unknown kid may refetch again
    assert evil.hits[DISCOVERY] == 1


async def test_cooldown_is_counted_per_provider(
    evil: EvilOp, keyring: Keyring, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    first, second = (OidcProvider(evil.issuer, http, clock) for _ in range(2))
    unknown = evil.mint(evil.id_claims(), kid="unknown")
    for rp in (first, second, first, second):
        with pytest.raises(Unauthenticated):
            await verify(rp, unknown)
    assert evil.hits["/jwks"] == 4  # each: one load, one refetch


async def test_cold_start_burst_shares_one_fetch(rp: OidcProvider, evil: EvilOp) -> None:
    token = evil.mint(evil.id_claims())
    assert set(await asyncio.gather(*(verify(rp, token) for _ in range(50)))) == {"user-1"}
    assert (evil.hits[DISCOVERY], evil.hits["/jwks"]) == (1, 1)


async def test_outage_keeps_the_last_good_keys_and_metadata(
    rp: OidcProvider, evil: EvilOp, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    meta = await rp.metadata()
    await verify(rp, evil.mint(evil.id_claims()))
    evil.down = True
    assert await verify(rp, evil.mint(evil.id_claims())) == "user-1"
    clock.advance(3601)  # discovery and keys are due for a refresh, which fails
    assert await verify(rp, evil.mint(evil.id_claims())) == "user-1"
    assert await rp.metadata() == meta
    assert (evil.hits[DISCOVERY], evil.hits["/jwks"]) == (2, 2)  # one attempt each, then backoff

    unknown = evil.mint(evil.id_claims(), kid="new-key")
    expected = "Unavailable:provider_unavailable:"
    assert (await outcome(rp, unknown)).startswith(expected)  # maybe a new key: not "invalid"
    assert evil.hits["/jwks"] == 2
    with pytest.raises(Unavailable) as caught:
        await OidcProvider(evil.issuer, http, clock).metadata()
    assert caught.value.code == "provider_unavailable"

    evil.down = False
    clock.advance(6)  # past the failure backoff: the next call refreshes
    assert await verify(rp, evil.mint(evil.id_claims())) == "user-1"
    assert (evil.hits[DISCOVERY], evil.hits["/jwks"]) == (4, 3)


async def test_a_withdrawn_key_stops_working_after_max_age(
    rp: OidcProvider, evil: EvilOp, keyring: Keyring, clock: ManualClock
) -> None:
    evil.keys = [keyring.rsa, keyring.rsa2]
    old = evil.mint(evil.id_claims(exp=int(clock.now()) + 7200))
    await verify(rp, old)
    evil.keys = [keyring.rsa2]
    await verify(rp, old)  # cached keys, as documented
    clock.advance(3601)
    assert (await outcome(rp, old)).endswith("id_token rejected: signature")


async def test_only_signature_keys_of_the_set_are_used(
    rp: OidcProvider, evil: EvilOp, keyring: Keyring
) -> None:
    enc = {**keyring.rsa.as_dict(private=False), "use": "enc"}
    rs384 = {**keyring.rsa.as_dict(private=False), "kid": "rs384", "alg": "RS384"}
    oct_key = {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}
    garbage = {"kty": "RSA", "kid": "broken", "n": "x"}
    good = keyring.rsa2.as_dict(private=False)
    evil.replies["/jwks"] = (200, {"keys": [enc, rs384, oct_key, garbage, "nope", good]})
    assert await verify(rp, evil.mint(evil.id_claims(), key=keyring.rsa2)) == "user-1"
    for kid in (keyring.rsa.kid, "rs384", "broken"):
        token = evil.mint(evil.id_claims(), kid=kid)
        assert (await outcome(rp, token)).endswith("rejected: signature")


@pytest.mark.parametrize("body", [{"keys": "nope"}, {"keys": []}, b"not json", {"other": 1}])
async def test_a_broken_key_set_is_unavailable(
    rp: OidcProvider, evil: EvilOp, body: object
) -> None:
    evil.replies["/jwks"] = (200, body)
    with pytest.raises(Unavailable) as caught:
        await verify(rp, evil.mint(evil.id_claims()))
    assert caught.value.code == "provider_unavailable"


async def test_a_slow_refresh_holds_up_no_one_else(
    rp: OidcProvider, evil: EvilOp, clock: ManualClock
) -> None:
    await verify(rp, evil.mint(evil.id_claims()))
    clock.advance(3601)  # discovery and keys are stale
    evil.delay = 0.1
    evil.arrivals = asyncio.Queue()
    slow = asyncio.create_task(verify(rp, evil.mint(evil.id_claims())))
    while await evil.arrivals.get() != "/jwks":  # discovery refreshed; keys refresh under way
        pass
    assert await verify(rp, evil.mint(evil.id_claims())) == "user-1"  # stale keys, no waiting
    assert await rp.metadata()
    assert not slow.done()
    assert await slow == "user-1"
