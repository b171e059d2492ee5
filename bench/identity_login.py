"""Login callback work excluding the provider (identity.py, part 2): each round logs in new
users three ways (the whole gateway callback, auth-svc's CompleteLogin alone, and a code exchange
of our own at the same provider), so that ours = callback total - provider token call."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from benchkit import ms, percentile

from auth_svc.oidc import ClientCredentials, OidcProvider
from bodhi_common.channels import open_channel
from bodhi_common.clock import SystemClock
from bodhi_common.internal_auth import InternalAuth
from bodhi_devstack.proc import free_port
from bodhi_devstack.stack import HOST, Stack
from gateway.clients.auth import AuthClient
from gateway.web import CALLBACK_PATH, SESSION_COOKIE


async def walk_provider(http: httpx.AsyncClient, url: str, username: str, until: str) -> str:
    """Follow the provider's redirects (its own cookie jar, emptied first) as a browser would,
    logging in `username` by login_hint; the URL it finally sends the browser to on `until`."""
    http.cookies.clear()
    url = url + "&" + urlencode({"login_hint": username})
    for _ in range(10):
        response = await http.get(url)
        if response.status_code not in (302, 303):
            raise RuntimeError(f"provider answered {response.status_code}: {response.text[:200]}")
        url = urljoin(url, response.headers["location"])
        if urlsplit(url).netloc == until:
            return url
    raise RuntimeError("the provider never redirected back")


def pkce() -> tuple[str, str, str, str]:
    """state, nonce, verifier and S256 challenge of a new login."""
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return state, nonce, verifier, challenge.decode().rstrip("=")


def code_of(url: str, state: str) -> str:
    query = parse_qs(urlsplit(url).query)
    if query.get("state") != [state] or "code" not in query:
        raise RuntimeError(f"the provider did not send a code back: {sorted(query)}")
    return query["code"][0]


class Logins:
    """Three ways through a login against one stack and its provider: the whole gateway
    callback, auth-svc's CompleteLogin alone, and the provider's code exchange alone."""

    def __init__(
        self, stack: Stack, auth: AuthClient, provider: OidcProvider, client: ClientCredentials,
        redirect_uri: str,
    ) -> None:  # fmt: skip
        self._auth = auth
        self._provider = provider
        self._client = client
        self._gateway_netloc = urlsplit(stack.gateway_url).netloc
        self._gateway_callback = stack.gateway_url + CALLBACK_PATH
        self._direct_redirect = redirect_uri
        self.browser = httpx.AsyncClient(base_url=stack.gateway_url, timeout=10)
        self.provider_http = httpx.AsyncClient(timeout=10, follow_redirects=False)

    async def close(self) -> None:
        await self.browser.aclose()
        await self.provider_http.aclose()

    async def gateway_login(self, username: str) -> dict[str, float]:
        """initiate → the provider → GET /ui/auth/callback, timing only the last request; then a
        GET /ping on the same client (the HTTP + client floor of one request)."""
        self.browser.cookies.clear()  # a new browser: no session, no login cookie
        started = await self.browser.post("/bodhi/v1/auth/initiate")
        if started.status_code != 201:
            raise RuntimeError(f"initiate: {started.status_code} {started.text[:200]}")
        callback = await walk_provider(
            self.provider_http, started.json()["location"], username, self._gateway_netloc
        )
        t0 = time.perf_counter()
        finished = await self.browser.get(callback)
        callback_ms = (time.perf_counter() - t0) * 1000
        if finished.status_code != 200 or SESSION_COOKIE not in self.browser.cookies:
            raise RuntimeError(f"callback: {finished.status_code} {finished.text[:300]}")
        t0 = time.perf_counter()
        await self.browser.get("/ping")
        return {"callback_ms": callback_ms, "http_floor_ms": (time.perf_counter() - t0) * 1000}

    async def complete_login(self, username: str) -> dict[str, float]:
        """auth-svc's CompleteLogin called over gRPC exactly as the gateway calls it (its
        AuthClient), for a login begun by BeginLogin with the gateway's redirect URI."""
        state, nonce, verifier, challenge = pkce()
        start = await self._auth.begin_login(
            redirect_uri=self._gateway_callback, state=state, nonce=nonce,
            code_challenge=challenge,
        )  # fmt: skip
        back = await walk_provider(self.provider_http, start.url, username, self._gateway_netloc)
        code = code_of(back, state)
        t0 = time.perf_counter()
        await self._auth.complete_login(
            code=code, code_verifier=verifier, nonce=nonce, redirect_uri=self._gateway_callback
        )
        return {"complete_login_ms": (time.perf_counter() - t0) * 1000}

    async def direct_exchange(self, username: str) -> dict[str, float]:
        """A login of our own client at the same provider, timing the code exchange (what
        auth-svc's CompleteLogin waits for) and the id_token check (same code, in process)."""
        state, nonce, verifier, challenge = pkce()
        meta = await self._provider.metadata()
        url = self._provider.authorization_url(
            meta, client_id=self._client.client_id, redirect_uri=self._direct_redirect,
            state=state, nonce=nonce, code_challenge=challenge,
        )  # fmt: skip
        back = await walk_provider(
            self.provider_http, url, username, urlsplit(self._direct_redirect).netloc
        )
        code = code_of(back, state)
        t0 = time.perf_counter()
        tokens = await self._provider.exchange_code(
            self._client, code=code, code_verifier=verifier, redirect_uri=self._direct_redirect
        )
        token_ms = (time.perf_counter() - t0) * 1000
        assert tokens.id_token is not None
        t0 = time.perf_counter()
        await self._provider.verify_id_token(
            tokens.id_token, client_id=self._client.client_id, nonce=nonce
        )
        return {"token_ms": token_ms, "verify_ms": (time.perf_counter() - t0) * 1000}


async def login_bench(stack: Stack, logins: int, warm_up: int) -> dict[str, Any]:
    """`logins` rounds of (gateway login, CompleteLogin alone, provider exchange alone), each
    as a new user, rotating the order; differences are taken within a round."""
    run = uuid.uuid4().hex[:6]
    redirect_uri = f"http://{HOST}:{free_port()}/cb"  # never requested: the code is read off it
    timeout = httpx.Timeout(10.0, connect=3.0)  # as auth-svc's provider client
    internal = InternalAuth(stack.plan.internal_key or "", "gateway", SystemClock())
    async with (
        httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http,
        open_channel(f"{HOST}:{stack.plan.service_ports['auth']}") as channel,
    ):
        provider = OidcProvider(stack.oidc_issuer, http, SystemClock())
        registration = await provider.register_client(
            name="identity benchmark", redirect_uris=[redirect_uri], initial_access_token=None
        )
        client = ClientCredentials(
            client_id=registration.client_id, client_secret=registration.client_secret
        )
        auth = AuthClient(channel, internal, timeout=10.0)
        driver = Logins(stack, auth, provider, client, redirect_uri)
        try:
            runs: dict[str, list[dict[str, float]]] = {"gw": [], "complete": [], "direct": []}
            for i in range(warm_up + logins):
                arms: list[tuple[str, Callable[[], Awaitable[dict[str, float]]]]] = [
                    ("gw", partial(driver.gateway_login, f"bench-{run}-gw-{i:03}")),
                    ("complete", partial(driver.complete_login, f"bench-{run}-cl-{i:03}")),
                    ("direct", partial(driver.direct_exchange, f"bench-{run}-rp-{i:03}")),
                ]
                for kind, step in arms[i % 3 :] + arms[: i % 3]:
                    measured = await step()
                    if i >= warm_up:
                        runs[kind].append(measured)
        finally:
            await driver.close()
    total = [r["callback_ms"] for r in runs["gw"]]
    complete = [r["complete_login_ms"] for r in runs["complete"]]
    token = [r["token_ms"] for r in runs["direct"]]
    floor = [r["http_floor_ms"] for r in runs["gw"]]
    verify = [r["verify_ms"] for r in runs["direct"]]

    def minus(a: list[float], b: list[float]) -> list[float]:
        return [x - y for x, y in zip(a, b, strict=True)]

    def stats(values: list[float]) -> dict[str, float]:
        return {"p50_ms": ms(percentile(values, 0.5)), "p99_ms": ms(percentile(values, 0.99))}

    return {
        "logins": len(total),
        "distinct_users": len(total) + len(complete),
        "warm_up_rounds": warm_up,
        "callback_total": stats(total),
        "complete_login_grpc": stats(complete),
        "provider_token_call": stats(token),
        "ours_pairwise": stats(minus(total, token)),
        "auth_svc_own_pairwise": stats(minus(complete, token)),
        "gateway_own_pairwise": stats(minus(total, complete)),
        "ours_p50_of_total_minus_p50_of_token_ms": ms(
            percentile(total, 0.5) - percentile(token, 0.5)
        ),
        "http_floor_same_client": stats(floor),
        "id_token_verify_in_process": stats(verify),
        "max_callback_ms": ms(max(total)),
    }
