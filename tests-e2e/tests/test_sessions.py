"""Sessions (reliability-security.md G3, G11, G12): logout, idle and absolute timeouts, one token
refresh for many concurrent requests, a failed refresh ends the session with a clear 401, and a
session store that is down or frozen is a fast 503, never an anonymous fallback."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
import redis
from conftest import ACCESS_TOKEN_TTL

from bodhi_devstack.proc import free_port
from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient

Browser = Callable[[], BodhiClient]


def session_key(client: BodhiClient) -> str:
    return f"bodhi:session:{client.http.cookies['bodhiapp_session_id']}"


def refreshes_of(stack: Stack, user_id: str) -> int:
    """How many times the gateway refreshed this person's tokens (from its log)."""
    log = Path(stack.plan.data_dir / "stack.log").read_text()
    return sum(
        1 for line in log.splitlines() if "session tokens refreshed" in line and user_id in line
    )


def test_logout_ends_the_session_for_every_copy_of_the_cookie(
    admin: BodhiClient, browser: Browser, stack: Stack
) -> None:
    client = browser()
    client.login_as("leaver")
    copied = dict(client.http.cookies)
    key = session_key(client)
    assert client.logout().json()["location"].endswith("/ui")
    replay = BodhiClient(stack.gateway_url, cookies=copied)
    assert replay.whoami() == {"auth_status": "logged_out"}
    with redis.Redis.from_url(stack.redis_url) as store:
        assert store.get(key) is None
    replay.close()


@pytest.fixture
def strict_gateway(stack: Stack) -> Iterator[str]:
    """A second gateway instance with a 2 s idle and 6 s absolute session limit."""
    port = free_port()
    stack.extra_gateway(port, BODHI_SESSION_IDLE_SECONDS="2", BODHI_SESSION_ABSOLUTE_SECONDS="6")
    yield f"http://127.0.0.1:{port}"
    stack.children.pop(f"gateway-{port}").stop()


def test_idle_and_absolute_timeouts_end_sessions(
    admin: BodhiClient, browser: Browser, strict_gateway: str
) -> None:
    idle, busy = browser(), browser()
    idle.login_as("idler")
    busy.login_as("busy-bee")
    strict_idle = BodhiClient(strict_gateway, cookies=dict(idle.http.cookies))
    strict_busy = BodhiClient(strict_gateway, cookies=dict(busy.http.cookies))
    seen = []
    for second in range(8):
        seen.append(strict_busy.whoami()["auth_status"])
        if second == 3:
            assert strict_idle.whoami() == {"auth_status": "logged_out"}  # 3 s idle > 2 s
        time.sleep(1)
    assert seen[:4] == ["logged_in"] * 4  # a request a second keeps it alive...
    assert seen[-1] == "logged_out"  # ...until the absolute limit
    strict_idle.close()
    strict_busy.close()


def test_concurrent_requests_at_expiry_refresh_once(
    admin: BodhiClient, browser: Browser, stack: Stack
) -> None:
    client = browser()
    user_id = client.login_as("flighty")["user_id"]
    before = refreshes_of(stack, user_id)
    time.sleep(ACCESS_TOKEN_TTL - 4)  # inside the refresh window (5 s before expiry)
    cookies = dict(client.http.cookies)

    def whoami() -> str:
        with BodhiClient(stack.gateway_url, cookies=cookies) as each:
            status: str = each.whoami()["auth_status"]
            return status

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: whoami(), range(10)))
    assert statuses == ["logged_in"] * 10
    assert refreshes_of(stack, user_id) - before == 1
    assert client.whoami()["auth_status"] == "logged_in"


def test_a_refused_refresh_ends_the_session_with_a_clear_401(
    admin: BodhiClient, browser: Browser, stack: Stack
) -> None:
    client = browser()
    client.login_as("revoked-at-provider")
    key = session_key(client)
    with redis.Redis.from_url(stack.redis_url) as store:
        session = msgspec.json.decode(store.get(key) or b"{}")
        session |= {"refresh_token": "revoked-by-the-provider", "access_expires_at": time.time()}
        store.set(key, msgspec.json.encode(session), keepttl=True)
        response = client.http.get("/bodhi/v1/tokens")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "session_expired"
        assert store.get(key) is None


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a frozen Redis)."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(lambda r, w: None, "127.0.0.1", 0))
    port: int = server.sockets[0].getsockname()[1]
    pool = concurrent.futures.ThreadPoolExecutor(1)
    pool.submit(loop.run_forever)
    yield port
    loop.call_soon_threadsafe(loop.stop)
    pool.shutdown()


@pytest.mark.parametrize("redis_state", ["down", "frozen"])
def test_no_session_store_is_a_fast_503_and_bearer_tokens_still_work(
    admin: BodhiClient, stack: Stack, silent_port: int, redis_state: str
) -> None:
    token = admin.create_token("scope_token_user", name=f"redis-{redis_state}")
    port = free_port()
    dead = free_port() if redis_state == "down" else silent_port
    stack.extra_gateway(port, REDIS_URL=f"redis://127.0.0.1:{dead}/0")
    cut_off = BodhiClient(f"http://127.0.0.1:{port}", cookies=dict(admin.http.cookies))
    started = time.monotonic()
    response = cut_off.http.get("/bodhi/v1/tokens")
    assert time.monotonic() - started < 1.5
    assert (response.status_code, response.json()["error"]["code"]) == (
        503,
        "session_store_unavailable",
    )
    assert cut_off.http.get("/bodhi/v1/user").status_code == 503  # never "logged_out"
    robot = BodhiClient(f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"})
    assert robot.whoami() == {"auth_status": "api_token", "role": "scope_token_user"}
    cut_off.close()
    robot.close()
    stack.children.pop(f"gateway-{port}").stop()
