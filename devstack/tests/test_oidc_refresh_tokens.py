"""Refresh tokens of the development OpenID provider: rotation with reuse refused, and revocation
checked by introspection."""

from __future__ import annotations

from typing import Any

import httpx

from support import Provider, register, token_request, tokens_for, verify


def test_refresh_rotates_and_a_used_refresh_token_is_refused(provider: Provider) -> None:
    client = register(provider)
    first = tokens_for(provider, client, "alice")

    refreshed = token_request(
        provider, client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (
        verify(provider, second["access_token"])["sub"]
        == verify(provider, first["access_token"])["sub"]
    )
    assert verify(provider, second["id_token"])["preferred_username"] == "alice"

    reused = token_request(
        provider, client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_revoked_refresh_token_is_unusable(provider: Provider) -> None:
    client = register(provider)
    tokens = tokens_for(provider, client, "dave")
    refresh = tokens["refresh_token"]

    def introspect() -> dict[str, Any]:
        response = httpx.post(
            provider.meta["introspection_endpoint"],
            data={"token": refresh, "token_type_hint": "refresh_token"},
            auth=(client["client_id"], client["client_secret"]),
            timeout=5,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert introspect()["active"] is True
    revoked = httpx.post(
        provider.meta["revocation_endpoint"],
        data={"token": refresh, "token_type_hint": "refresh_token"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=5,
    )
    assert revoked.status_code == 200, revoked.text
    assert introspect()["active"] is False
    refused = token_request(
        provider, client, {"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
