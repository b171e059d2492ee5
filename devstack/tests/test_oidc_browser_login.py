"""The login form of the development OpenID provider, as a browser meets it: the page, the posted
username completing the flow, and the interaction bound to its cookie."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx

from support import (
    Login,
    Provider,
    authorize_url,
    exchange,
    follow_to_callback,
    pkce_pair,
    register,
    verify,
)


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
