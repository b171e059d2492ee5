"""G7 and A5: one crafted ID token per case from the evil OP; each is refused with
`id_token_invalid` and a short reason, the valid ones pass (so every case can fail)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import Keyring
from evil_op import CLIENT_ID, NONCE, EvilOp, Listener, hs256, raw_token, rs256

from auth_svc.oidc import OidcProvider
from bodhi_common.clock import ManualClock
from bodhi_common.errors import Unauthenticated

Mint = Callable[[EvilOp, Keyring], str]


async def verify(rp: OidcProvider, token: str, nonce: str = NONCE) -> Any:
    return await rp.verify_id_token(token, client_id=CLIENT_ID, nonce=nonce)


async def refusal(rp: OidcProvider, token: str, nonce: str = NONCE) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        await verify(rp, token, nonce)
    error = caught.value
    assert error.code == "id_token_invalid"
    for part in token.split("."):
        assert len(part) < 8 or part not in error.message
    return error


def claims(op: EvilOp, **changes: Any) -> dict[str, Any]:
    return op.id_claims(**changes)


def hs256_with(public: Callable[[Keyring], bytes]) -> Mint:
    """HS256 "signed" with the OP's public key as the HMAC secret (CVE-2022-29217 family)."""

    def mint(op: EvilOp, k: Keyring) -> str:
        header = {"alg": "HS256", "kid": k.rsa.kid}
        return raw_token(header, claims(op), hs256(public(k)))

    return mint


def none_alg(name: str) -> Mint:
    def mint(op: EvilOp, k: Keyring) -> str:
        return raw_token({"alg": name, "kid": k.rsa.kid}, claims(op), lambda _: b"")

    return mint


REFUSED: dict[str, tuple[Mint, str]] = {
    "wrong-key-same-kid": (
        lambda op, k: op.mint(claims(op), key=k.attacker_rsa, kid=k.rsa.kid),
        "signature",
    ),
    "wrong-key-own-kid": (lambda op, k: op.mint(claims(op), key=k.attacker_rsa), "signature"),
    "wrong-key-no-kid": (
        lambda op, k: op.mint(claims(op), key=k.attacker_rsa, kid=None),
        "signature",
    ),
    "alg-none": (none_alg("none"), "algorithm"),
    "alg-None": (none_alg("None"), "algorithm"),
    "alg-NONE": (none_alg("NONE"), "algorithm"),
    "hs256-public-pem": (hs256_with(lambda k: k.rsa.as_pem(private=False)), "algorithm"),
    "hs256-public-der": (hs256_with(lambda k: k.rsa.as_der(private=False)), "algorithm"),
    "hs256-public-jwk-json": (
        hs256_with(lambda k: json.dumps(k.rsa.as_dict(private=False)).encode()),
        "algorithm",
    ),
    "rs384-not-allowed": (lambda op, k: op.mint(claims(op), alg="RS384"), "algorithm"),
    "iss-wrong": (lambda op, k: op.mint(claims(op, iss="http://evil.example")), "issuer"),
    "iss-trailing-slash": (lambda op, k: op.mint(claims(op, iss=op.issuer + "/")), "issuer"),
    "iss-missing": (lambda op, k: op.mint(claims(op, iss=None)), "missing issuer"),
    "aud-wrong": (lambda op, k: op.mint(claims(op, aud="other-client")), "audience"),
    "aud-missing": (lambda op, k: op.mint(claims(op, aud=None)), "missing audience"),
    "aud-several-azp-missing": (
        lambda op, k: op.mint(claims(op, aud=[CLIENT_ID, "other"])),
        "authorized_party",
    ),
    "aud-several-azp-wrong": (
        lambda op, k: op.mint(claims(op, aud=[CLIENT_ID, "other"], azp="other")),
        "authorized_party",
    ),
    "azp-wrong-single-aud": (lambda op, k: op.mint(claims(op, azp="other")), "authorized_party"),
    "sub-missing": (lambda op, k: op.mint(claims(op, sub=None)), "missing subject"),
    "sub-empty": (lambda op, k: op.mint(claims(op, sub="")), "subject"),
    "sub-not-a-string": (lambda op, k: op.mint(claims(op, sub=42)), "subject"),
    "iat-missing": (lambda op, k: op.mint(claims(op, iat=None)), "missing issued_at"),
    "exp-missing": (lambda op, k: op.mint(claims(op, exp=None)), "missing expiry"),
    "exp-past-beyond-leeway": (
        lambda op, k: op.mint(claims(op, exp=int(op.clock.now()) - 61)),
        "expired",
    ),
    "exp-nan-like-string": (lambda op, k: op.mint(claims(op, exp="9999999999")), "expiry"),
    "iat-future-beyond-leeway": (
        lambda op, k: op.mint(claims(op, iat=int(op.clock.now()) + 61)),
        "issued_at",
    ),
    "nbf-future-beyond-leeway": (
        lambda op, k: op.mint(claims(op, nbf=int(op.clock.now()) + 61)),
        "not_yet_valid",
    ),
    "nonce-wrong": (lambda op, k: op.mint(claims(op, nonce="n-other")), "nonce"),
    "nonce-missing": (lambda op, k: op.mint(claims(op, nonce=None)), "missing nonce"),
    "kid-unknown": (lambda op, k: op.mint(claims(op), kid="no-such-key"), "signature"),
    "kid-path-traversal": (lambda op, k: op.mint(claims(op), kid="../../dev/null"), "signature"),
    "kid-sql": (lambda op, k: op.mint(claims(op), kid="' OR 1=1 --"), "signature"),
    "kid-not-a-string": (lambda op, k: op.mint(claims(op), kid=None, header={"kid": 7}), "header"),
    "typ-access-token": (lambda op, k: op.mint(claims(op), header={"typ": "at+jwt"}), "type"),
    "typ-claim-bearer": (lambda op, k: op.mint(claims(op, typ="Bearer")), "type"),
    "header-oversized": (lambda op, k: op.mint(claims(op), header={"x": "a" * 600}), "size"),
    "header-4kb": (lambda op, k: op.mint(claims(op), header={"x": "a" * 4096}), "size"),
    "crit-unknown": (
        lambda op, k: op.mint(claims(op), header={"crit": ["urn:x"], "urn:x": 1}),
        "header",
    ),
    "crit-b64": (
        lambda op, k: op.mint(claims(op), header={"crit": ["b64"], "b64": True}),
        "header",
    ),
    "not-a-jws": (lambda op, k: "not-a-token", "malformed"),
    "three-garbage-parts": (lambda op, k: "a.b.c", "malformed"),
    "jwe-shaped": (lambda op, k: "a.b.c.d.e", "malformed"),
    "non-ascii": (lambda op, k: "é.é.é", "malformed"),
    "payload-not-an-object": (
        lambda op, k: raw_token({"alg": "RS256", "kid": k.rsa.kid}, [1, 2], rs256(k.rsa)),
        "malformed",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_crafted_id_token_is_refused(
    case: str, rp: OidcProvider, evil: EvilOp, keyring: Keyring
) -> None:
    mint, reason = REFUSED[case]
    error = await refusal(rp, mint(evil, keyring))
    assert error.message == f"id_token rejected: {reason}"


ACCEPTED: dict[str, Mint] = {
    "baseline": lambda op, k: op.mint(claims(op)),
    "aud-list-with-us": lambda op, k: op.mint(claims(op, aud=[CLIENT_ID])),
    "aud-several-azp-us": lambda op, k: op.mint(claims(op, aud=[CLIENT_ID, "x"], azp=CLIENT_ID)),
    "exp-past-within-leeway": lambda op, k: op.mint(claims(op, exp=int(op.clock.now()) - 59)),
    "iat-future-within-leeway": lambda op, k: op.mint(claims(op, iat=int(op.clock.now()) + 59)),
    "typ-jwt": lambda op, k: op.mint(claims(op), header={"typ": "JWT"}),
    "keycloak-typ-claim-id": lambda op, k: op.mint(claims(op, typ="ID")),
    "unregistered-header-ignored": lambda op, k: op.mint(claims(op), header={"x-extra": "1"}),
    "es256": lambda op, k: op.mint(claims(op), key=k.ec, alg="ES256"),
    "ps256": lambda op, k: op.mint(claims(op), alg="PS256"),
    # OIDC conformance "kid absent": every key that fits the algorithm is tried.
    "kid-absent-single-key": lambda op, k: op.mint(claims(op), kid=None),
    "kid-absent-several-keys": lambda op, k: op.mint(claims(op), key=k.rsa2, kid=None),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
async def test_valid_id_token_is_accepted(
    case: str, rp: OidcProvider, evil: EvilOp, keyring: Keyring
) -> None:
    evil.keys = [keyring.rsa, keyring.rsa2, keyring.ec]
    identity = await verify(rp, ACCEPTED[case](evil, keyring))
    assert (identity.issuer, identity.subject) == (evil.issuer, "user-1")
    assert identity.username == "alice"


async def test_claims_map_to_the_identity(rp: OidcProvider, evil: EvilOp) -> None:
    names = {"given_name": "Ada", "family_name": "Lovelace"}
    token = evil.mint(evil.id_claims(email="a@x.test", exp=1_700_000_100, **names))
    identity = await verify(rp, token)
    assert identity.email == "a@x.test"
    assert (identity.first_name, identity.last_name) == ("Ada", "Lovelace")
    assert identity.expires_at == 1_700_000_100.0
    no_username = evil.mint(evil.id_claims(preferred_username=None, email="b@x.test"))
    assert (await verify(rp, no_username)).username == "b@x.test"
    bare = evil.mint(evil.id_claims(preferred_username=None))
    assert (await verify(rp, bare)).username == "user-1"


async def test_empty_expected_nonce_never_matches(rp: OidcProvider, evil: EvilOp) -> None:
    error = await refusal(rp, evil.mint(evil.id_claims(nonce="")), nonce="")
    assert error.message == "id_token rejected: nonce"


async def test_a_token_ages_out_on_the_injected_clock(
    rp: OidcProvider, evil: EvilOp, clock: ManualClock
) -> None:
    token = evil.mint(evil.id_claims())
    await verify(rp, token)
    clock.advance(300 + 59)
    await verify(rp, token)
    clock.advance(2)
    assert (await refusal(rp, token)).message == "id_token rejected: expired"


async def test_key_url_headers_are_never_fetched(
    rp: OidcProvider, evil: EvilOp, keyring: Keyring
) -> None:
    async with Listener() as listener:
        attacker_jwk = keyring.attacker_ec.as_dict(private=False)
        for header, kid in (
            ({"jku": listener.url}, "evil-ec"),
            ({"x5u": listener.url}, "evil-ec"),
            ({"jwk": attacker_jwk}, None),
            ({"jku": listener.url, "x5u": listener.url}, None),
        ):
            token = evil.mint(
                evil.id_claims(), key=keyring.attacker_ec, alg="ES256", header=header, kid=kid
            )
            assert (await refusal(rp, token)).message == "id_token rejected: signature"
        assert listener.connections == 0
    assert set(evil.hits) == {"/.well-known/openid-configuration", "/jwks"}


def test_symmetric_algorithms_cannot_be_configured(evil: EvilOp, http: httpx.AsyncClient) -> None:
    for algorithms in (("HS256",), ("RS256", "none"), ()):
        with pytest.raises(ValueError, match="asymmetric"):
            OidcProvider(evil.issuer, http, ManualClock(), algorithms=algorithms)


async def test_refreshed_id_tokens_skip_the_nonce_only_when_asked(
    rp: OidcProvider, evil: EvilOp
) -> None:
    for token in (evil.mint(evil.id_claims()), evil.mint(evil.id_claims(nonce=None))):
        identity = await rp.verify_id_token(token, client_id=CLIENT_ID, nonce=None)
        assert identity.subject == "user-1"
    error = await refusal(rp, evil.mint(evil.id_claims(nonce=None)))
    assert error.message == "id_token rejected: missing nonce"
