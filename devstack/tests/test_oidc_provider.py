"""The development OpenID provider (devstack/oidc) over real HTTP: discovery, RFC 7591 registration,
the authorization-code flow with PKCE (headless and through the login form), id_token and JWT
access-token signatures against the JWKS, refresh-token rotation, revocation and stable keys."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from bodhi_devstack import oidc
from bodhi_devstack.oidc import discovery_url, ensure_node_modules, start_oidc
from bodhi_devstack.proc import Child, free_port

SHORT_TTLS = {
    "OIDC_ACCESS_TOKEN_TTL": "60",
    "OIDC_ID_TOKEN_TTL": "60",
    "OIDC_REFRESH_TOKEN_TTL": "600",
    "OIDC_SESSION_TTL": "600",
}
REDIRECT_URI = f"http://127.0.0.1:{free_port()}/ui/auth/callback"  # never contacted


@dataclass
class Provider:
    issuer: str
    child: Child
    log: io.StringIO
    meta: dict[str, Any]

    def jwks(self) -> KeySet:
        return KeySet.import_key_set(httpx.get(self.meta["jwks_uri"], timeout=5).json())


def launch(data_dir: Path, extra_env: dict[str, str] | None = None) -> Provider:
    ensure_node_modules()
    issuer = f"http://127.0.0.1:{free_port()}"
    log = io.StringIO()
    child = start_oidc(issuer, data_dir, sink=log, extra_env={**SHORT_TTLS, **(extra_env or {})})
    meta = httpx.get(discovery_url(issuer), timeout=5).json()
    return Provider(issuer, child, log, meta)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    started = launch(tmp_path_factory.mktemp("oidc") / "data")
    yield started
    assert started.child.stop() == 0, started.child.tail()


# --- client side of the protocol --------------------------------------------------------------


def register(provider: Provider, **metadata: Any) -> dict[str, Any]:
    body = {
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "client_name": "Bodhi test",
        **metadata,
    }
    response = httpx.post(provider.meta["registration_endpoint"], json=body, timeout=5)
    assert response.status_code == 201, response.text
    client: dict[str, Any] = response.json()
    return client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Login:
    verifier: str
    state: str
    nonce: str
    callback: dict[str, str]  # query parameters of the final redirect to REDIRECT_URI


def authorize_url(provider: Provider, client: dict[str, Any], **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        **params,
    }
    return f"{provider.meta['authorization_endpoint']}?{urlencode(query)}"


def follow_to_callback(
    http: httpx.Client, response: httpx.Response, max_hops: int = 10
) -> dict[str, str]:
    """Follow provider redirects until one points at REDIRECT_URI; return its query parameters."""
    for _ in range(max_hops):
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(REDIRECT_URI):
            return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        response = http.get(location)
    raise AssertionError("no redirect to the client's redirect_uri")


def login(
    provider: Provider,
    client: dict[str, Any],
    username: str,
    http: httpx.Client | None = None,
    **extra: str,
) -> Login:
    """Headless login: the login_hint logs the user in without any page."""
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    params = {
        "login_hint": username,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    own = http is None
    http = http or httpx.Client(timeout=5)
    try:
        callback = follow_to_callback(http, http.get(authorize_url(provider, client, **params)))
    finally:
        if own:
            http.close()
    return Login(verifier, state, nonce, callback)


def token_request(
    provider: Provider, client: dict[str, Any], data: dict[str, str]
) -> httpx.Response:
    return httpx.post(
        provider.meta["token_endpoint"],
        data=data,
        auth=(client["client_id"], client["client_secret"]),
        timeout=5,
    )


def exchange(provider: Provider, client: dict[str, Any], done: Login) -> httpx.Response:
    return token_request(
        provider,
        client,
        {
            "grant_type": "authorization_code",
            "code": done.callback["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": done.verifier,
        },
    )


def tokens_for(provider: Provider, client: dict[str, Any], username: str) -> dict[str, Any]:
    response = exchange(provider, client, login(provider, client, username))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def verify(provider: Provider, token: str) -> dict[str, Any]:
    """Signature check against the published JWKS (RS256 only); returns the claims."""
    decoded = jwt.decode(token, provider.jwks(), algorithms=["RS256"])
    claims: dict[str, Any] = decoded.claims
    claims["_header"] = decoded.header
    return claims


# --- tests --------------------------------------------------------------------------------------


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


def test_headless_code_flow_issues_verifiable_tokens(provider: Provider) -> None:
    client = register(provider)
    done = login(provider, client, "alice")
    assert done.callback["state"] == done.state
    assert done.callback["code"]
    assert done.callback["iss"] == provider.issuer  # RFC 9207

    response = exchange(provider, client, done)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert {"access_token", "id_token", "refresh_token"} <= body.keys()
    assert body["expires_in"] <= int(SHORT_TTLS["OIDC_ACCESS_TOKEN_TTL"])

    claims = verify(provider, body["id_token"])
    assert claims["_header"]["alg"] == "RS256"
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == client["client_id"]
    assert claims["nonce"] == done.nonce
    assert claims["preferred_username"] == "alice"
    assert claims["email"] == "alice@example.test"
    assert claims["sub"].startswith("user-")
    assert claims["exp"] - claims["iat"] == int(SHORT_TTLS["OIDC_ID_TOKEN_TTL"])

    # Access tokens are RFC 9068 JWTs signed by the same keys.
    access = verify(provider, body["access_token"])
    assert access["_header"]["typ"] == "at+jwt"
    assert access["iss"] == provider.issuer
    assert access["sub"] == claims["sub"]
    assert access["client_id"] == access["azp"] == client["client_id"]
    assert access["aud"] == "urn:bodhi:api"
    assert "openid" in access["scope"].split()

    # The code is one-shot.
    again = exchange(provider, client, done)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_client_secret_post_works_too(provider: Provider) -> None:
    client = register(provider, token_endpoint_auth_method="client_secret_post")
    done = login(provider, client, "carol")
    response = httpx.post(
        provider.meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": done.callback["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": done.verifier,
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert verify(provider, response.json()["id_token"])["preferred_username"] == "carol"


def test_pkce_is_enforced(provider: Provider) -> None:
    client = register(provider)
    done = login(provider, client, "alice")
    wrong = exchange(provider, client, Login(pkce_pair()[0], done.state, done.nonce, done.callback))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"

    # Without a code_challenge (or with the plain method) no code is issued.
    for extra in ({}, {"code_challenge": "a" * 43, "code_challenge_method": "plain"}):
        params = {"login_hint": "alice", "state": "s1", "nonce": "n1", **extra}
        with httpx.Client(timeout=5) as http:
            response = http.get(authorize_url(provider, client, **params))
            if response.status_code == 400:
                assert "invalid_request" in response.text
                continue
            callback = follow_to_callback(http, response)
        assert "code" not in callback
        assert callback["error"] == "invalid_request"
        assert callback["state"] == "s1"


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


def test_subjects_are_stable_per_user(provider: Provider) -> None:
    client = register(provider)

    def sub_of(username: str, http: httpx.Client | None = None) -> str:
        done = login(provider, client, username, http)
        response = exchange(provider, client, done)
        assert response.status_code == 200, response.text
        claims = verify(provider, response.json()["id_token"])
        assert claims["preferred_username"] == username.strip().lower()
        sub: str = claims["sub"]
        return sub

    alice, bob = sub_of("alice"), sub_of("bob")
    assert alice != bob
    assert sub_of("alice") == alice
    assert sub_of(" Alice ") == alice  # login names are trimmed and lower-cased
    # One cookie jar (a browser) switches user by login_hint and keeps it without one.
    with httpx.Client(timeout=5) as http:
        assert sub_of("alice", http) == alice
        assert sub_of("bob", http) == bob
        assert sub_of("bob", http) == bob
        verifier, challenge = pkce_pair()
        response = http.get(
            authorize_url(
                provider,
                client,
                state="s",
                nonce="n",
                code_challenge=challenge,
                code_challenge_method="S256",
                prompt="none",
            )
        )
        done = Login(verifier, "s", "n", follow_to_callback(http, response))
        tokens = exchange(provider, client, done).json()
        assert verify(provider, tokens["id_token"])["sub"] == bob  # silent re-login (SSO)


def test_claims_derived_from_the_login(provider: Provider) -> None:
    client = register(provider)
    claims = verify(provider, tokens_for(provider, client, "Jane.Doe@Corp.Example")["id_token"])
    assert claims["preferred_username"] == "jane.doe@corp.example"
    assert claims["email"] == "jane.doe@corp.example"
    assert claims["email_verified"] is True
    assert (claims["given_name"], claims["family_name"], claims["name"]) == (
        "Jane",
        "Doe",
        "Jane Doe",
    )


def test_keys_survive_a_restart_and_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = launch(data_dir)
    try:
        kids = {k.kid for k in first.jwks()}
    finally:
        assert first.child.stop() == 0
    key_file = data_dir / "jwks.json"
    assert key_file.stat().st_mode & 0o777 == 0o600

    second = launch(data_dir)
    try:
        assert {k.kid for k in second.jwks()} == kids
        assert "ready issuer=" + second.issuer in second.log.getvalue()
    finally:
        assert second.child.stop() == 0

    fresh = launch(tmp_path / "other")
    try:
        assert {k.kid for k in fresh.jwks()}.isdisjoint(kids)
    finally:
        fresh.child.stop()


def test_browser_login_form_completes_the_flow(provider: Provider) -> None:
    client = register(provider, client_name="<script>alert(1)</script>")
    verifier, challenge = pkce_pair()
    with httpx.Client(timeout=5) as http:
        response = http.get(
            authorize_url(
                provider,
                client,
                state="st",
                nonce="nn",
                code_challenge=challenge,
                code_challenge_method="S256",
            ),
            follow_redirects=True,
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert "<form" in page
        assert 'name="username"' in page
        assert "<script>" not in page  # the client name is escaped
        assert "&lt;script&gt;" in page
        action = re.search(r'<form[^>]*action="([^"]+)"', page)
        assert action is not None

        empty = http.post(urljoin(str(response.url), action.group(1)), data={"username": " "})
        assert empty.status_code == 400
        assert "<form" in empty.text

        posted = http.post(urljoin(str(response.url), action.group(1)), data={"username": "erin"})
        callback = follow_to_callback(http, posted)
    assert callback["state"] == "st"
    tokens = exchange(provider, client, Login(verifier, "st", "nn", callback))
    assert tokens.status_code == 200, tokens.text
    claims = verify(provider, tokens.json()["id_token"])
    assert (claims["preferred_username"], claims["nonce"]) == ("erin", "nn")


def test_interaction_page_without_its_cookie_is_refused(provider: Provider) -> None:
    client = register(provider)
    _, challenge = pkce_pair()
    with httpx.Client(timeout=5) as http:
        response = http.get(
            authorize_url(
                provider, client, state="s", code_challenge=challenge, code_challenge_method="S256"
            )
        )
        assert response.status_code == 303
        interaction = urljoin(str(response.url), response.headers["location"])
    stranger = httpx.get(interaction, timeout=5)  # another browser: no interaction cookie
    assert stranger.status_code == 400
    assert "<form" not in stranger.text


def test_logs_carry_no_tokens(provider: Provider) -> None:
    client = register(provider)
    tokens = tokens_for(provider, client, "frank")
    token_request(provider, client, {"grant_type": "refresh_token", "refresh_token": "bogus"})
    time.sleep(0.1)  # let the output pump catch up
    logged = provider.log.getvalue()
    assert f"ready issuer={provider.issuer}" in logged
    for value in (
        client["client_secret"],
        tokens["access_token"],
        tokens["id_token"],
        tokens["refresh_token"],
    ):
        assert value not in logged


def test_missing_node_modules_says_to_run_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oidc, "OIDC_DIR", tmp_path)
    with pytest.raises(oidc.NodeModulesMissingError, match="make setup"):
        oidc.ensure_node_modules()
