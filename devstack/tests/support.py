"""Client side of the OpenID protocol against the development provider (devstack/oidc): starting a
provider, registering clients, PKCE, headless login, token requests and JWKS verification."""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

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
