"""The back channel against the evil OP: exactly what goes on the wire (client_secret_basic,
forms, JSON), how answers become TokenSets, and how refusals become typed errors that never
carry a code, token or secret."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest
from evil_op import EvilOp, Listener

from auth_svc.oidc import ClientCredentials, OidcProvider, Registration, TokenSet
from bodhi_common.clock import ManualClock
from bodhi_common.errors import (
    FailedPrecondition,
    InvalidArgument,
    ServiceError,
    Unauthenticated,
    Unavailable,
)

CLIENT = ClientCredentials(client_id="bodhi app:1", client_secret="s3cret/+:%Zq")
CODE = "Zm9vYmFyLWNvZGUtMTIzNDU2Nzg5MA"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
REDIRECT = "http://127.0.0.1:1135/ui/auth/callback"
TOKENS = {
    "access_token": "at-1",
    "token_type": "Bearer",
    "expires_in": 300,
    "refresh_token": "rt-1",
    "refresh_expires_in": 1800,
    "id_token": "idt-1",
}
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TYPE = "urn:ietf:params:oauth:token-type:access_token"


async def exchange(rp: OidcProvider) -> TokenSet:
    return await rp.exchange_code(CLIENT, code=CODE, code_verifier=VERIFIER, redirect_uri=REDIRECT)


def basic(client: ClientCredentials) -> str:
    pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def assert_clean(error: ServiceError, *secrets: str) -> None:
    for secret in (CODE, VERIFIER, CLIENT.client_secret, *secrets):
        assert secret not in error.message


async def test_code_exchange_on_the_wire(
    rp: OidcProvider, evil: EvilOp, clock: ManualClock
) -> None:
    evil.replies["/token"] = (200, TOKENS)
    assert await exchange(rp) == TokenSet(
        access_token="at-1",
        refresh_token="rt-1",
        id_token="idt-1",
        expires_at=clock.now() + 300,
        refresh_expires_at=clock.now() + 1800,
    )
    sent = evil.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/token")
    assert sent.headers["authorization"] == basic(CLIENT)  # RFC 6749 §2.3.1 encoding
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.form() == {
        "grant_type": "authorization_code",
        "code": CODE,
        "code_verifier": VERIFIER,
        "redirect_uri": REDIRECT,
    }


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (
            {"error": "invalid_grant", "error_description": "grant request is invalid"},
            "(invalid_grant: grant request is invalid)",
        ),
        (
            {"error": "invalid_grant", "error_description": f"code {CODE} already used"},
            "(invalid_grant)",
        ),
        (
            {"error": "invalid_grant", "error_description": "bad value Xy7kPq2mZr9sLt4wVb"},
            "(invalid_grant)",
        ),
        ({"error": "invalid_grant", "error_description": "ünïcode"}, "(invalid_grant)"),
        ({"error": "invalid_grant", "error_description": "x" * 200}, "(invalid_grant)"),
        ({"error": CODE}, "(refused)"),
        ({}, "(refused)"),
    ],
)
async def test_a_refused_code_is_invalid_argument(
    rp: OidcProvider, evil: EvilOp, body: dict[str, Any], shown: str
) -> None:
    evil.replies["/token"] = (400, body)
    with pytest.raises(InvalidArgument) as caught:
        await exchange(rp)
    assert caught.value.code == "code_exchange_failed"
    assert caught.value.message.endswith(shown)
    assert_clean(caught.value)


@pytest.mark.parametrize(
    "body",
    [{}, {"access_token": ""}, {"access_token": 5}, {**TOKENS, "token_type": "DPoP"}, b"<html>"],
)
async def test_a_malformed_token_answer_is_refused(
    rp: OidcProvider, evil: EvilOp, body: object
) -> None:
    evil.replies["/token"] = (200, body)
    with pytest.raises(InvalidArgument) as caught:
        await exchange(rp)
    assert caught.value.code == "code_exchange_failed"
    assert caught.value.message.endswith(
        ("(no access token in the answer)", "(not a bearer token)")
    )


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_a_failing_token_endpoint_is_unavailable(
    rp: OidcProvider, evil: EvilOp, status: int
) -> None:
    evil.replies["/token"] = (status, {"error": "server_error"})
    with pytest.raises(Unavailable) as caught:
        await exchange(rp)
    assert caught.value.code == "provider_unavailable"
    assert_clean(caught.value)


async def test_redirects_are_not_followed_with_the_secret(rp: OidcProvider, evil: EvilOp) -> None:
    async with Listener() as listener:
        evil.replies["/token"] = (307, {"location": listener.url})
        with pytest.raises(InvalidArgument):
            await exchange(rp)
        assert listener.connections == 0


async def test_refresh_without_rotation_keeps_the_refresh_token(
    rp: OidcProvider, evil: EvilOp, clock: ManualClock
) -> None:
    evil.replies["/token"] = (200, {"access_token": "at-2", "token_type": "bearer"})
    tokens = await rp.refresh(CLIENT, "rt-old")
    assert tokens == TokenSet(
        access_token="at-2",
        refresh_token="rt-old",
        id_token=None,
        expires_at=None,
        refresh_expires_at=None,
    )
    assert evil.requests[-1].form() == {"grant_type": "refresh_token", "refresh_token": "rt-old"}
    # Keycloak's offline tokens: refresh_expires_in 0 means "does not expire".
    evil.replies["/token"] = (200, {**TOKENS, "refresh_expires_in": 0, "expires_in": "soon"})
    rotated = await rp.refresh(CLIENT, "rt-old")
    assert (rotated.refresh_token, rotated.refresh_expires_at, rotated.expires_at) == (
        "rt-1",
        None,
        None,
    )


async def test_a_refused_refresh_is_unauthenticated(rp: OidcProvider, evil: EvilOp) -> None:
    refresh = "rt-Abc123Def456Ghi789"
    evil.replies["/token"] = (400, {"error": "invalid_grant", "error_description": refresh})
    with pytest.raises(Unauthenticated) as caught:
        await rp.refresh(CLIENT, refresh)
    assert (caught.value.code, caught.value.message) == (
        "refresh_failed",
        "the identity provider refused the refresh token (invalid_grant)",
    )


async def test_revocation(rp: OidcProvider, evil: EvilOp) -> None:
    evil.replies["/revoke"] = (200, b"")
    assert await rp.revoke(CLIENT, "rt-1") is True
    sent = evil.requests[-1]
    assert sent.form() == {"token": "rt-1", "token_type_hint": "refresh_token"}
    assert sent.headers["authorization"] == basic(CLIENT)
    evil.replies["/revoke"] = (400, {"error": "unsupported_token_type"})
    with pytest.raises(FailedPrecondition) as caught:
        await rp.revoke(CLIENT, "at-1", hint="access_token")
    assert caught.value.code == "revocation_failed"
    evil.replies["/revoke"] = (503, {})
    with pytest.raises(Unavailable):
        await rp.revoke(CLIENT, "rt-1")


async def test_no_revocation_endpoint(rp: OidcProvider, evil: EvilOp) -> None:
    evil.discovery_extra["revocation_endpoint"] = None
    assert await rp.revoke(CLIENT, "rt-1") is False
    assert "/revoke" not in evil.hits


async def test_registration_on_the_wire(rp: OidcProvider, evil: EvilOp) -> None:
    answer = {"client_id": "cid", "client_secret": "sec", "registration_access_token": "rat"}
    evil.replies["/register"] = (201, answer)
    uris = ["http://127.0.0.1:1135/ui/auth/callback"]
    registration = await rp.register_client(
        name="Bodhi test", redirect_uris=uris, initial_access_token="iat-1"
    )
    assert registration == Registration(
        client_id="cid", client_secret="sec", registration_access_token="rat"
    )
    sent = evil.requests[-1]
    assert sent.headers["authorization"] == "Bearer iat-1"
    assert json.loads(sent.body) == {
        "client_name": "Bodhi test",
        "redirect_uris": uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "application_type": "web",
    }
    evil.replies["/register"] = (200, {"client_id": "cid2", "client_secret": "sec2"})
    open_registration = await rp.register_client(
        name="x", redirect_uris=uris, initial_access_token=None
    )
    assert open_registration.registration_access_token is None
    assert "authorization" not in evil.requests[-1].headers


@pytest.mark.parametrize(
    "reply",
    [
        (401, {"error": "invalid_token", "error_description": "iat-Secret99Token"}),
        (400, {"error": "invalid_redirect_uri"}),
        (201, {"client_id": "cid"}),  # a public client: no secret
        (201, {"client_id": "c", "client_secret": "s", "token_endpoint_auth_method": "none"}),
    ],
)
async def test_refused_registration(rp: OidcProvider, evil: EvilOp, reply: tuple[int, Any]) -> None:
    evil.replies["/register"] = reply
    with pytest.raises(FailedPrecondition) as caught:
        await rp.register_client(
            name="x", redirect_uris=[REDIRECT], initial_access_token="iat-Secret99Token"
        )
    assert caught.value.code == "client_registration_failed"
    assert_clean(caught.value, "iat-Secret99Token")


async def test_no_registration_endpoint(rp: OidcProvider, evil: EvilOp) -> None:
    evil.discovery_extra["registration_endpoint"] = None
    with pytest.raises(FailedPrecondition) as caught:
        await rp.register_client(name="x", redirect_uris=[REDIRECT], initial_access_token=None)
    assert caught.value.code == "registration_unsupported"


async def test_token_exchange_only_when_advertised(rp: OidcProvider, evil: EvilOp) -> None:
    with pytest.raises(FailedPrecondition) as caught:
        await rp.exchange_token(CLIENT, subject_token="st", audience="bodhi", scopes=[])
    assert caught.value.code == "token_exchange_unsupported"
    assert "/token" not in evil.hits


async def test_token_exchange_on_the_wire(
    rp: OidcProvider, evil: EvilOp, clock: ManualClock
) -> None:
    evil.discovery_extra["grant_types_supported"] = ["authorization_code", TOKEN_EXCHANGE]
    answer = {"access_token": "x-1", "issued_token_type": ACCESS_TYPE, "token_type": "Bearer"}
    evil.replies["/token"] = (200, {**answer, "expires_in": 60})
    tokens = await rp.exchange_token(
        CLIENT, subject_token="st-1", audience="bodhi-api", scopes=["scope_user_user", "openid"]
    )
    assert (tokens.access_token, tokens.expires_at, tokens.refresh_token) == (
        "x-1",
        clock.now() + 60,
        None,
    )
    assert evil.requests[-1].form() == {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": "st-1",
        "subject_token_type": ACCESS_TYPE,
        "requested_token_type": ACCESS_TYPE,
        "audience": "bodhi-api",
        "scope": "scope_user_user openid",
    }
    evil.replies["/token"] = (400, {"error": "invalid_target"})
    with pytest.raises(Unauthenticated) as caught:
        await rp.exchange_token(CLIENT, subject_token="st-1", audience="other", scopes=[])
    assert caught.value.code == "token_exchange_failed"
    assert "scope" not in evil.requests[-1].form()
