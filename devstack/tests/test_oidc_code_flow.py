"""The authorization-code flow of the development OpenID provider with PKCE, headless by login_hint:
verifiable id_token and JWT access token, client authentication, PKCE enforcement, stable subjects
and the claims derived from the login name."""

from __future__ import annotations

import httpx

from support import (
    REDIRECT_URI,
    SHORT_TTLS,
    Login,
    Provider,
    authorize_url,
    exchange,
    follow_to_callback,
    login,
    pkce_pair,
    register,
    tokens_for,
    verify,
)


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
