"""The relying party against the real development provider (node oidc-provider) over HTTP:
discovery, registration, the headless code flow with PKCE, ID and access token verification,
refresh rotation, revocation, a third-party app's token, and an outage."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oidc_dev_op import REDIRECT_URI, Callback, DevOp, launch, login

from auth_svc.oidc import ClientCredentials, OidcProvider, TokenSet
from bodhi_common.clock import ManualClock
from bodhi_common.errors import FailedPrecondition, InvalidArgument, Unauthenticated, Unavailable

INITIAL_ACCESS_TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevOp]:
    """One provider for the module; registration needs the initial access token."""
    env = {"OIDC_REGISTRATION_TOKEN": INITIAL_ACCESS_TOKEN}
    provider = launch(tmp_path_factory.mktemp("oidc") / "data", env)
    yield provider
    assert provider.child.stop() == 0, provider.child.tail()
    assert INITIAL_ACCESS_TOKEN not in provider.log.getvalue()


@pytest.fixture
def real_clock() -> ManualClock:
    """The dev provider stamps tokens with real time: start the manual clock there."""
    return ManualClock(start=time.time())


@pytest.fixture
def rp(dev: DevOp, http: httpx.AsyncClient, real_clock: ManualClock) -> OidcProvider:
    return OidcProvider(dev.issuer, http, real_clock)


async def new_client(rp: OidcProvider, name: str = "Bodhi test") -> ClientCredentials:
    registration = await rp.register_client(
        name=name, redirect_uris=[REDIRECT_URI], initial_access_token=INITIAL_ACCESS_TOKEN
    )
    return ClientCredentials(
        client_id=registration.client_id, client_secret=registration.client_secret
    )


async def tokens_for(
    rp: OidcProvider, client: ClientCredentials, user: str, scope: str | None = None
) -> tuple[Callback, TokenSet]:
    done = await login(rp, client.client_id, user, scope)
    tokens = await rp.exchange_code(
        client,
        code=done.params["code"],
        code_verifier=done.verifier,
        redirect_uri=REDIRECT_URI,
    )
    return done, tokens


async def test_discovery(rp: OidcProvider, dev: DevOp) -> None:
    meta = await rp.metadata()
    assert meta.issuer == dev.issuer
    assert meta.registration_endpoint == f"{dev.issuer}/reg"
    assert meta.revocation_endpoint == f"{dev.issuer}/token/revocation"
    assert meta.end_session_endpoint == f"{dev.issuer}/session/end"
    assert meta.iss_parameter_supported
    assert not meta.token_exchange_supported


async def test_registration_needs_the_initial_access_token(rp: OidcProvider) -> None:
    with pytest.raises(FailedPrecondition) as caught:
        await rp.register_client(name="x", redirect_uris=[REDIRECT_URI], initial_access_token=None)
    assert caught.value.code == "client_registration_failed"
    with pytest.raises(FailedPrecondition) as caught:
        await rp.register_client(
            name="x", redirect_uris=[REDIRECT_URI], initial_access_token="wrong-Token-123"
        )
    assert "wrong-Token-123" not in caught.value.message
    client = await new_client(rp)
    assert client.client_id
    assert len(client.client_secret) >= 32


async def test_login_code_flow(rp: OidcProvider, dev: DevOp, real_clock: ManualClock) -> None:
    client = await new_client(rp)
    done, tokens = await tokens_for(rp, client, "Alice.Smith")
    assert done.params["state"] == done.state
    assert done.params["iss"] == dev.issuer  # RFC 9207
    assert tokens.refresh_token
    assert tokens.id_token
    assert tokens.expires_at == pytest.approx(real_clock.now() + 300, abs=1)

    identity = await rp.verify_id_token(
        tokens.id_token, client_id=client.client_id, nonce=done.nonce
    )
    assert (identity.issuer, identity.username) == (dev.issuer, "alice.smith")
    assert identity.subject.startswith("user-")
    assert identity.email == "alice.smith@example.test"
    assert (identity.first_name, identity.last_name) == ("Alice", "Smith")

    for client_id, nonce, reason in (
        (client.client_id, "another-nonce", "nonce"),
        ("another-client", done.nonce, "audience"),
    ):
        with pytest.raises(Unauthenticated, match=reason):
            await rp.verify_id_token(tokens.id_token, client_id=client_id, nonce=nonce)

    with pytest.raises(InvalidArgument) as caught:  # codes are one-shot
        await rp.exchange_code(
            client, code=done.params["code"], code_verifier=done.verifier, redirect_uri=REDIRECT_URI
        )
    assert caught.value.code == "code_exchange_failed"
    assert done.params["code"] not in caught.value.message


async def test_a_code_from_another_login_is_refused(rp: OidcProvider) -> None:
    """G5: the PKCE verifier binds a code to the login (session) that asked for it."""
    client = await new_client(rp)
    first = await login(rp, client.client_id, "bob")
    second = await login(rp, client.client_id, "bob")
    with pytest.raises(InvalidArgument) as caught:
        await rp.exchange_code(
            client,
            code=first.params["code"],
            code_verifier=second.verifier,
            redirect_uri=REDIRECT_URI,
        )
    assert caught.value.message.endswith("(invalid_grant: grant request is invalid)")


async def test_refresh_rotates_and_revocation_ends_it(rp: OidcProvider) -> None:
    client = await new_client(rp)
    _, first = await tokens_for(rp, client, "carol")
    assert first.refresh_token
    second = await rp.refresh(client, first.refresh_token)
    assert second.refresh_token
    assert second.refresh_token != first.refresh_token
    assert second.id_token
    refreshed = await rp.verify_id_token(second.id_token, client_id=client.client_id, nonce=None)
    assert refreshed.username == "carol"

    with pytest.raises(Unauthenticated) as caught:  # the used one is refused
        await rp.refresh(client, first.refresh_token)
    assert caught.value.code == "refresh_failed"

    assert await rp.revoke(client, second.refresh_token) is True
    with pytest.raises(Unauthenticated, match="invalid_grant"):
        await rp.refresh(client, second.refresh_token)


async def test_a_third_party_apps_access_token(rp: OidcProvider) -> None:
    app = await new_client(rp, "Third-party app")
    _, tokens = await tokens_for(rp, app, "dave", scope="openid scope_user_power_user")
    claims = await rp.verify_access_token(tokens.access_token)
    assert claims.client_id == app.client_id
    assert "scope_user_power_user" in claims.scopes
    assert claims.audience == ["urn:bodhi:api"]
    assert claims.username == "dave"
    assert claims.subject.startswith("user-")
    assert tokens.id_token
    with pytest.raises(Unauthenticated, match="client"):  # an ID token is no access token
        await rp.verify_access_token(tokens.id_token)


async def test_token_exchange_is_not_offered(rp: OidcProvider) -> None:
    client = await new_client(rp)
    with pytest.raises(FailedPrecondition) as caught:
        await rp.exchange_token(client, subject_token="x", audience="y", scopes=[])
    assert caught.value.code == "token_exchange_unsupported"


async def test_provider_outage(
    tmp_path: Path, http: httpx.AsyncClient, real_clock: ManualClock
) -> None:
    provider = launch(tmp_path / "data")  # open registration: no initial access token
    try:
        rp = OidcProvider(provider.issuer, http, real_clock, metadata_ttl=5)
        registration = await rp.register_client(
            name="open", redirect_uris=[REDIRECT_URI], initial_access_token=None
        )
        client = ClientCredentials(
            client_id=registration.client_id, client_secret=registration.client_secret
        )
        done, tokens = await tokens_for(rp, client, "erin")
        await rp.verify_access_token(tokens.access_token)
    finally:
        assert provider.child.stop() == 0

    meta = await rp.metadata()
    real_clock.advance(6)  # past the metadata TTL: the refresh fails, the last good copy stays
    assert await rp.metadata() == meta
    assert tokens.id_token
    await rp.verify_id_token(tokens.id_token, client_id=client.client_id, nonce=done.nonce)
    assert (await rp.verify_access_token(tokens.access_token)).username == "erin"

    assert tokens.refresh_token
    for call in (
        OidcProvider(provider.issuer, http, real_clock).metadata(),
        rp.refresh(client, tokens.refresh_token),
        rp.revoke(client, tokens.refresh_token),
    ):
        with pytest.raises(Unavailable) as caught:
            await call
        assert caught.value.code == "provider_unavailable"
