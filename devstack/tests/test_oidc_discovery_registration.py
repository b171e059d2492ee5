"""The development OpenID provider (devstack/oidc) over real HTTP: discovery metadata and RFC 7591
registration, open or guarded by an initial access token, and clients provisioned from the
environment."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx

from support import REDIRECT_URI, Provider, launch, register, tokens_for, verify


def test_discovery_advertises_the_endpoints_we_use(provider: Provider) -> None:
    meta = provider.meta
    assert meta["issuer"] == provider.issuer
    for endpoint in (
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "registration_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ):
        assert meta[endpoint].startswith(provider.issuer + "/"), endpoint
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["response_types_supported"] == ["code"]
    assert {"openid", "email", "profile", "offline_access", "roles"} <= set(
        meta["scopes_supported"]
    )
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    keys = httpx.get(meta["jwks_uri"], timeout=5).json()["keys"]
    assert any(k["kty"] == "RSA" and k["alg"] == "RS256" for k in keys)
    assert all("d" not in k for k in keys), "private key material published"


def test_dynamic_registration_returns_credentials(provider: Provider) -> None:
    client = register(provider)
    assert client["client_id"]
    assert len(client["client_secret"]) >= 32
    assert client["redirect_uris"] == [REDIRECT_URI]
    assert set(client["grant_types"]) == {"authorization_code", "refresh_token"}


def test_registration_token_and_preprovisioned_clients(tmp_path: Path) -> None:
    initial = secrets.token_urlsafe(24)
    fixed: dict[str, Any] = {
        "client_id": "bodhi-fixed",
        "client_secret": secrets.token_urlsafe(32),
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
    }
    guarded = launch(
        tmp_path / "data",
        {"OIDC_REGISTRATION_TOKEN": initial, "OIDC_CLIENTS": json.dumps([fixed])},
    )
    try:
        endpoint = guarded.meta["registration_endpoint"]
        body = {"redirect_uris": [REDIRECT_URI]}
        refused = httpx.post(endpoint, json=body, timeout=5)
        assert refused.status_code in (401, 403), refused.text
        assert refused.json()["error"] == "invalid_token"
        wrong = httpx.post(
            endpoint, json=body, headers={"Authorization": "Bearer wrong"}, timeout=5
        )
        assert wrong.status_code in (401, 403)
        accepted = httpx.post(
            endpoint, json=body, headers={"Authorization": f"Bearer {initial}"}, timeout=5
        )
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["client_secret"]

        # A client from OIDC_CLIENTS logs users in without any registration.
        tokens = tokens_for(guarded, fixed, "grace")
        assert verify(guarded, tokens["id_token"])["aud"] == "bodhi-fixed"
        assert tokens["refresh_token"]
    finally:
        assert guarded.child.stop() == 0
    assert initial not in guarded.log.getvalue()
    assert fixed["client_secret"] not in guarded.log.getvalue()
