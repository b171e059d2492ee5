"""Third-party apps' JWT access tokens (issue #4 "request authentication", A5): what
`verify_access_token` accepts and refuses. Audience and granted-app checks are the caller's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import Keyring
from evil_op import EvilOp, raw_token

from auth_svc.oidc import AccessClaims, OidcProvider
from bodhi_common.errors import Unauthenticated


async def refused(rp: OidcProvider, token: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        await rp.verify_access_token(token)
    assert caught.value.code == "access_token_invalid"
    return caught.value.message.removeprefix("access token rejected: ")


async def test_a_third_party_token_is_read(rp: OidcProvider, evil: EvilOp) -> None:
    token = evil.mint(evil.access_claims(preferred_username="alice"), header={"typ": "at+jwt"})
    assert await rp.verify_access_token(token) == AccessClaims(
        issuer=evil.issuer,
        subject="user-1",
        client_id="third-party-app",
        audience=["urn:bodhi:api"],
        scopes=["openid", "scope_user_power_user"],
        expires_at=evil.clock.now() + 300,
        username="alice",
    )


@pytest.mark.parametrize(
    ("changes", "client_id"),
    [
        ({"azp": None}, "third-party-app"),  # RFC 9068 client_id only
        ({"client_id": None}, "third-party-app"),  # Keycloak: azp only
    ],
)
async def test_the_client_comes_from_azp_or_client_id(
    rp: OidcProvider, evil: EvilOp, changes: dict[str, Any], client_id: str
) -> None:
    claims = await rp.verify_access_token(evil.mint(evil.access_claims(**changes)))
    assert claims.client_id == client_id


async def test_audience_list_and_scp_claim(rp: OidcProvider, evil: EvilOp) -> None:
    token = evil.mint(
        evil.access_claims(aud=["urn:bodhi:api", "other"], scope=None, scp=["scope_user_user"])
    )
    claims = await rp.verify_access_token(token)
    assert claims.audience == ["urn:bodhi:api", "other"]
    assert claims.scopes == ["scope_user_user"]
    bare = await rp.verify_access_token(evil.mint(evil.access_claims(aud=None, scope=None)))
    assert (bare.audience, bare.scopes, bare.username) == ([], [], None)


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "JWT"])
async def test_access_token_types_accepted(rp: OidcProvider, evil: EvilOp, typ: str) -> None:
    await rp.verify_access_token(evil.mint(evil.access_claims(), header={"typ": typ}))


def _id_token_shaped(op: EvilOp, k: Keyring) -> str:
    # node oidc-provider's ID token: aud = the client, neither azp nor client_id.
    return op.mint(op.id_claims())


REFUSED: dict[str, tuple[Any, str]] = {
    "id-token-as-access-token": (_id_token_shaped, "client"),
    "keycloak-id-token": (lambda op, k: op.mint(op.access_claims(typ="ID")), "type"),
    "keycloak-refresh-token": (lambda op, k: op.mint(op.access_claims(typ="Refresh")), "type"),
    "typ-logout": (lambda op, k: op.mint(op.access_claims(), header={"typ": "logout+jwt"}), "type"),
    "azp-and-client-id-differ": (lambda op, k: op.mint(op.access_claims(azp="x")), "client"),
    "no-client": (lambda op, k: op.mint(op.access_claims(azp=None, client_id=None)), "client"),
    "expired": (lambda op, k: op.mint(op.access_claims(exp=int(op.clock.now()) - 61)), "expired"),
    "nbf-future": (
        lambda op, k: op.mint(op.access_claims(nbf=int(op.clock.now()) + 61)),
        "not_yet_valid",
    ),
    "iat-future": (
        lambda op, k: op.mint(op.access_claims(iat=int(op.clock.now()) + 61)),
        "issued_at",
    ),
    "exp-missing": (lambda op, k: op.mint(op.access_claims(exp=None)), "missing expiry"),
    "sub-missing": (lambda op, k: op.mint(op.access_claims(sub=None)), "missing subject"),
    "iss-foreign": (lambda op, k: op.mint(op.access_claims(iss="http://other")), "issuer"),
    "wrong-key": (lambda op, k: op.mint(op.access_claims(), key=k.attacker_rsa), "signature"),
    "alg-none": (
        lambda op, k: raw_token({"alg": "none"}, op.access_claims(), lambda _: b""),
        "algorithm",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_bad_access_token_is_refused(
    rp: OidcProvider, evil: EvilOp, keyring: Keyring, case: str
) -> None:
    mint, reason = REFUSED[case]
    assert await refused(rp, mint(evil, keyring)) == reason


async def test_exp_boundary_around_the_leeway(rp: OidcProvider, evil: EvilOp) -> None:
    now = int(evil.clock.now())
    await rp.verify_access_token(evil.mint(evil.access_claims(exp=now - 59)))
    await rp.verify_access_token(evil.mint(evil.access_claims(nbf=now + 59)))
    assert await refused(rp, evil.mint(evil.access_claims(exp=now - 61))) == "expired"
    assert await refused(rp, evil.mint(evil.access_claims(nbf=now + 61))) == "not_yet_valid"


async def test_leeway_is_configurable(
    evil: EvilOp, rp: OidcProvider, http: httpx.AsyncClient
) -> None:
    strict = OidcProvider(evil.issuer, http, evil.clock, leeway=0)
    token = evil.mint(evil.access_claims(exp=int(evil.clock.now()) - 1))
    with pytest.raises(Unauthenticated, match="expired"):
        await strict.verify_access_token(token)
    await rp.verify_access_token(token)
