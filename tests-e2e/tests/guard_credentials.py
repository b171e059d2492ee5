"""The CREDENTIALS of the route-guard property test (test_route_guards.py): real sessions, API
tokens and third-party app tokens of people with each role, made once per module through the
gateway and the dev OIDC provider."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from guard_oracle import Kind, Level

from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient


@dataclass(repr=False)
class Credential:
    """One way of calling: `send` does the request with it."""

    name: str
    kind: Kind
    level: Level | None = None  # what §6.4 compares: role, token scope, min(user scope, role)
    client: BodhiClient | None = None  # a session: the person's browser (cookie jar)
    token: Any = None  # a str, or a callable giving a token that is still valid
    codes: frozenset[str] = frozenset()  # a rejected bearer token: the 401 codes it may get

    def bearer(self) -> str | None:
        if self.token is None:
            return None
        return self.token if isinstance(self.token, str) else self.token()

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__


def person(stack: Stack, name: str) -> BodhiClient:
    """A new browser, logged in as `name` (new on this stack)."""
    client = BodhiClient(stack.gateway_url)
    client.login_as(name)
    return client


def set_role(admin: BodhiClient, user_id: str, role: str) -> None:
    """PUT /bodhi/v1/users/{user_id}/role as `admin` (which ends that person's sessions)."""
    response = admin.http.put(
        f"/bodhi/v1/users/{user_id}/role", json={"role": role}, headers=origin(admin)
    )
    assert response.status_code == 200, response.text


def origin(client: BodhiClient) -> dict[str, str]:
    """The header a browser sends with our own pages' writes."""
    return {"Origin": client.base_url}


# --- third-party apps at the dev provider ------------------------------------------------------

THIRD_PARTY_REDIRECT = "http://127.0.0.1:9/callback"  # never contacted


@dataclass
class ThirdPartyApp:
    """An OAuth client registered at the dev provider (open registration), whose users' JWT
    access tokens the gateway accepts once the app asked for access."""

    issuer: str
    meta: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def register(cls, issuer: str) -> ThirdPartyApp:
        meta = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
        body = {
            "redirect_uris": [THIRD_PARTY_REDIRECT],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "client_name": "Route guard third-party app",
        }
        response = httpx.post(meta["registration_endpoint"], json=body, timeout=10)
        assert response.status_code == 201, response.text
        return cls(issuer, meta, response.json())

    @property
    def client_id(self) -> str:
        return str(self.client["client_id"])

    def access_token(self, username: str, scope: str, http: httpx.Client) -> str:
        """Log `username` in headlessly (login_hint) asking for `scope`; the JWT access token."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {
            "response_type": "code", "client_id": self.client_id,
            "redirect_uri": THIRD_PARTY_REDIRECT, "scope": scope, "login_hint": username,
            "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
        }  # fmt: skip
        url = f"{self.meta['authorization_endpoint']}?{urlencode(query)}"
        code = None
        for _ in range(10):
            response = http.get(url)
            assert response.status_code in (302, 303), response.text[:300]
            url = urljoin(url, response.headers["location"])
            if url.startswith(THIRD_PARTY_REDIRECT):
                code = parse_qs(urlsplit(url).query)["code"][0]
                break
        assert code is not None, "the provider never redirected back"
        response = httpx.post(
            self.meta["token_endpoint"],
            data={"grant_type": "authorization_code", "code": code,
                  "redirect_uri": THIRD_PARTY_REDIRECT, "code_verifier": verifier},
            auth=(self.client_id, self.client["client_secret"]),
            timeout=10,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


def claims(jwt: str) -> dict[str, Any]:
    """The payload of a JWT (no verification: only to read `exp`, `scope`, `azp`)."""
    payload = jwt.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


class FreshToken:
    """A user's access token for a third-party app, renewed when it has under `margin` seconds
    left (the stack's provider issues them for 10 s)."""

    def __init__(self, app: ThirdPartyApp, username: str, scope: str, margin: float = 4.0):
        self._app = app
        self._username = username
        self._scope = scope
        self._margin = margin
        self._http = httpx.Client(timeout=10)  # the user's provider session (cookie jar)
        self._token = ""
        self._expires = 0.0

    def __call__(self) -> str:
        if self._expires - time.time() < self._margin:
            self._token = self._app.access_token(self._username, self._scope, self._http)
            self._expires = float(claims(self._token)["exp"])
        return self._token

    def close(self) -> None:
        self._http.close()


def unique(prefix: str) -> str:
    """A login name nobody else on the shared stack uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
