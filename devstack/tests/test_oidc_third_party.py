"""Third-party apps at the development provider: any client may ask for the `scope_user_*` role
scopes, and its JWT access token carries the granted ones and names the client."""

from __future__ import annotations

import pytest

from support import Provider, exchange, login, register, verify

USER_SCOPES = ["scope_user_user", "scope_user_power_user", "scope_user_manager", "scope_user_admin"]


def test_role_scopes_are_advertised(provider: Provider) -> None:
    assert set(USER_SCOPES) <= set(provider.meta["scopes_supported"])


@pytest.mark.parametrize("scope", USER_SCOPES)
def test_a_client_gets_the_role_scope_it_asks_for(provider: Provider, scope: str) -> None:
    app = register(provider, client_name="Third-party app")
    done = login(provider, app, "alice", scope=f"openid {scope}")
    response = exchange(provider, app, done)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"].split() == ["openid", scope]
    access = verify(provider, body["access_token"])
    assert access["_header"]["typ"] == "at+jwt"
    assert access["scope"].split() == ["openid", scope]
    assert access["azp"] == access["client_id"] == app["client_id"]
    assert access["aud"] == "urn:bodhi:api"
    assert access["preferred_username"] == "alice"


def test_unknown_scopes_are_not_granted(provider: Provider) -> None:
    app = register(provider)
    done = login(provider, app, "bob", scope="openid scope_user_power_user scope_user_root")
    response = exchange(provider, app, done)
    assert response.status_code == 200, response.text
    access = verify(provider, response.json()["access_token"])
    assert access["scope"].split() == ["openid", "scope_user_power_user"]


def test_without_role_scopes_the_token_has_none(provider: Provider) -> None:
    app = register(provider)
    response = exchange(provider, app, login(provider, app, "carol"))
    assert response.status_code == 200, response.text
    scopes = set(verify(provider, response.json()["access_token"])["scope"].split())
    assert not scopes & set(USER_SCOPES)
