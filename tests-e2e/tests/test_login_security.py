"""Attacks on the login (reliability-security.md G1, G2, G4, G5, G6, G9, G10): each ends in a
clear 4xx with no session, and the session cookie is what a BFF's must be."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import msgspec
import pytest
import redis

from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient

Browser = Callable[[], BodhiClient]


def provider_callback(client: BodhiClient, username: str) -> str:
    """Start a login in `client` and let the provider log `username` in; the callback URL it
    redirects to (not yet visited)."""
    started = client.http.post("/bodhi/v1/auth/initiate")
    assert started.status_code == 201
    return client.follow_provider(started.json()["location"], username)


def with_query(url: str, **changes: str | None) -> str:
    """The URL with query parameters replaced (None removes one)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def error_code(response: httpx.Response) -> str:
    """The envelope's code of a failed API call."""
    code: str = response.json()["error"]["code"]
    return code


def post_callback(client: BodhiClient, url: str) -> httpx.Response:
    """What BodhiApp's UI does: post the callback's query parameters to the API."""
    return client.http.post("/bodhi/v1/auth/callback", json=dict(parse_qsl(urlsplit(url).query)))


def test_the_session_cookie_is_strict_httponly_and_unguessable(
    admin: BodhiClient, browser: Browser
) -> None:
    client = browser()
    callback = provider_callback(client, "cookie-checker")
    response = client.http.get(callback)
    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("bodhiapp_session_id="))
    attributes = {part.strip().split("=")[0].lower() for part in session.split(";")[1:]}
    assert {"httponly", "path", "samesite"} <= attributes
    assert "domain" not in attributes
    assert "samesite=strict" in session.lower()
    value = session.split(";")[0].split("=", 1)[1]
    assert len(value) >= 43  # 256 random bits, url-safe
    assert any(c.startswith("bodhiapp_login=;") or 'bodhiapp_login=""' in c for c in cookies)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_a_session_brought_to_login_is_replaced_and_ended(
    admin: BodhiClient, browser: Browser, stack: Stack
) -> None:
    client = browser()
    client.login_as("fixation-victim")
    before = client.http.cookies["bodhiapp_session_id"]
    started = client.http.post("/ui/login")  # log in again (e.g. as someone else) from /ui
    assert started.status_code == 303
    client.http.get(client.follow_provider(started.headers["location"], "fixation-victim"))
    assert client.http.cookies["bodhiapp_session_id"] != before
    replay = BodhiClient(stack.gateway_url, cookies={"bodhiapp_session_id": before})
    assert replay.whoami() == {"auth_status": "logged_out"}
    replay.close()


def test_a_planted_session_id_is_never_adopted(admin: BodhiClient, browser: Browser) -> None:
    client, attacker = browser(), browser()
    for jar in (client.http.cookies, attacker.http.cookies):
        jar.set("bodhiapp_session_id", "attacker-chosen", domain="127.0.0.1")
    client.login_as("planted-victim")
    assert client.http.cookies["bodhiapp_session_id"] != "attacker-chosen"
    assert attacker.whoami() == {"auth_status": "logged_out"}


@pytest.mark.parametrize(
    ("change", "code"),
    [({"state": None}, "state_missing"), ({"state": "not-the-state"}, "state_invalid")],
)
def test_a_missing_or_wrong_state_is_refused(
    admin: BodhiClient, browser: Browser, change: dict[str, str | None], code: str
) -> None:
    client = browser()
    callback = with_query(provider_callback(client, "state-tester"), **change)
    response = post_callback(client, callback)
    assert (response.status_code, error_code(response)) == (400, code)
    assert client.whoami() == {"auth_status": "logged_out"}


def test_a_callback_is_good_once(admin: BodhiClient, browser: Browser) -> None:
    client = browser()
    callback = provider_callback(client, "replayer")
    assert post_callback(client, callback).status_code == 200
    again = browser()
    again.http.cookies = client.http.cookies
    response = post_callback(client, callback)
    assert (response.status_code, error_code(response)) == (400, "state_invalid")


def test_a_callback_is_bound_to_the_browser_that_started_the_login(
    admin: BodhiClient, browser: Browser
) -> None:
    victim, attacker = browser(), browser()
    callback = provider_callback(victim, "bound-victim")
    response = post_callback(attacker, callback)  # no login cookie of that transaction
    assert (response.status_code, error_code(response)) == (400, "state_invalid")
    assert attacker.whoami() == {"auth_status": "logged_out"}


def test_a_code_injected_into_another_login_fails_pkce(
    admin: BodhiClient, browser: Browser
) -> None:
    first, second = browser(), browser()
    stolen = provider_callback(first, "pkce-victim")
    own = provider_callback(second, "pkce-attacker")
    injected = with_query(own, code=dict(parse_qsl(urlsplit(stolen).query))["code"])
    response = post_callback(second, injected)
    assert (response.status_code, error_code(response)) == (400, "code_exchange_failed")
    assert second.whoami() == {"auth_status": "logged_out"}


@pytest.mark.parametrize(
    ("iss", "code"), [(None, "issuer_missing"), ("http://evil.example", "issuer_mismatch")]
)
def test_the_callback_must_name_the_issuer(
    admin: BodhiClient, browser: Browser, iss: str | None, code: str
) -> None:
    client = browser()
    callback = provider_callback(client, "mixup-tester")
    assert dict(parse_qsl(urlsplit(callback).query)).get("iss")  # the provider sends RFC 9207 iss
    response = post_callback(client, with_query(callback, iss=iss))
    assert (response.status_code, error_code(response)) == (400, code)


def test_a_provider_error_is_a_clear_400(admin: BodhiClient, browser: Browser) -> None:
    client = browser()
    client.http.post("/bodhi/v1/auth/initiate")
    response = client.http.post(
        "/bodhi/v1/auth/callback",
        json={"error": "access_denied", "error_description": "<script>x</script>"},
    )
    assert (response.status_code, error_code(response)) == (400, "oauth_error")
    assert "script" not in response.text


def test_no_provider_token_ever_reaches_the_browser(
    admin: BodhiClient, browser: Browser, stack: Stack
) -> None:
    client = browser()
    seen = []
    callback = provider_callback(client, "bff-checker")
    for response in (
        client.http.get(callback),
        client.http.get("/bodhi/v1/user"),
        client.http.get("/ui"),
        client.http.post("/bodhi/v1/auth/initiate"),
    ):
        seen.append(response.text + str(response.headers))
    session_id = client.http.cookies["bodhiapp_session_id"]
    with redis.Redis.from_url(stack.redis_url) as store:
        raw = store.get(f"bodhi:session:{session_id}")
    assert raw is not None
    session = msgspec.json.decode(raw)
    for token in (session["access_token"], session["refresh_token"]):
        assert len(token) > 20
        assert all(token not in text for text in seen)


def test_session_writes_from_another_site_are_refused(admin: BodhiClient, stack: Stack) -> None:
    body = {"name": "csrf", "scope": "scope_token_user"}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ):
        response = admin.http.post("/bodhi/v1/tokens", json=body, headers=headers)
        assert (response.status_code, error_code(response)) == (403, "cross_site_request")
    form = admin.http.post(
        "/bodhi/v1/tokens", data=body, headers={"Origin": "https://evil.example"}
    )
    assert form.status_code == 403
    same_site = admin.http.post(
        "/bodhi/v1/tokens", json=body, headers={"Origin": stack.gateway_url}
    )
    assert same_site.status_code == 201
