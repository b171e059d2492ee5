"""The development OpenID provider (devstack/oidc, node oidc-provider) for the relying-party
tests, and a headless browser for its login (the login_hint logs the user in without a page)."""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import httpx

from auth_svc.oidc import OidcProvider
from bodhi_devstack.oidc import start_oidc
from bodhi_devstack.proc import Child, free_port

REDIRECT_URI = f"http://127.0.0.1:{free_port()}/ui/auth/callback"  # never contacted


@dataclass
class DevOp:
    issuer: str
    child: Child
    log: io.StringIO


def launch(data_dir: Path, extra_env: dict[str, str] | None = None) -> DevOp:
    issuer = f"http://127.0.0.1:{free_port()}"
    log = io.StringIO()
    return DevOp(issuer, start_oidc(issuer, data_dir, sink=log, extra_env=extra_env), log)


@dataclass
class Callback:
    """One finished authorization request: what the browser brought back, and its secrets."""

    params: dict[str, str]
    state: str
    nonce: str
    verifier: str


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def login(
    rp: OidcProvider, client_id: str, username: str, scope: str | None = None
) -> Callback:
    """Run the authorization request in a fresh cookie jar until it redirects to REDIRECT_URI."""
    verifier, challenge = pkce()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    meta = await rp.metadata()
    request = {"client_id": client_id, "redirect_uri": REDIRECT_URI, "state": state, "nonce": nonce}
    if scope:
        request["scope"] = scope
    url = rp.authorization_url(meta, code_challenge=challenge, **request)
    async with httpx.AsyncClient(timeout=5) as browser:
        response = await browser.get(f"{url}&login_hint={quote(username)}")
        for _ in range(10):
            assert response.status_code in (302, 303), response.text[:300]
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(REDIRECT_URI):
                query = parse_qs(urlsplit(location).query)
                return Callback({k: v[0] for k, v in query.items()}, state, nonce, verifier)
            response = await browser.get(location)
    raise AssertionError("the provider never redirected back")
