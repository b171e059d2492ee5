"""The bearer cache hit in process (identity.py, part 1b): token_digest + BearerCache.get on a
full cache, and Authenticator.context for a bearer header against none, with a counting stand-in
for auth-svc that shows the warm path makes no call."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchkit import percentile
from litestar.connection import ASGIConnection
from redis.asyncio import Redis

from bodhi_common.clock import SystemClock
from gateway.authn import Authenticator
from gateway.bearer_cache import BearerCache, token_digest
from gateway.clients.auth import AuthClient
from gateway.identity import AuthContext, Level
from gateway.rate_limits import RateLimits
from gateway.sessions import SessionStore
from gateway.settings import GatewaySettings
from gateway.web import Web

CACHE_ENTRIES = 10_000  # the gateway's bearer cache holds at most this many tokens
Connection = ASGIConnection[Any, Any, Any, Any]


class CountingAuth(AuthClient):
    """Stands in for auth-svc: answers every bearer lookup with one principal and counts them."""

    def __init__(self, ctx: AuthContext) -> None:  # no channel: nothing here goes on the wire
        self.calls = 0
        self._ctx = ctx

    async def authenticate_bearer(
        self, token: str, client_address: str
    ) -> tuple[AuthContext, float | None]:
        self.calls += 1
        return self._ctx, None


def bearer_scope(header: bytes | None) -> Any:
    headers = [(b"host", b"127.0.0.1:1135"), (b"user-agent", b"bench")]
    if header is not None:
        headers.append((b"authorization", header))
    return {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/bodhi/v1/user", "raw_path": b"/bodhi/v1/user", "root_path": "",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 1135), "state": {},
    }  # fmt: skip


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e6


async def in_process(redis_url: str, calls: int) -> dict[str, Any]:
    """token_digest + BearerCache.get on a full cache, and Authenticator.context on fresh
    connections (built outside the timed loop, as Litestar builds them for every request)."""
    clock = SystemClock()
    settings = GatewaySettings(redis_url=redis_url, bodhi_internal_key="k" * 48)
    client = Redis.from_url(redis_url)
    cache = BearerCache(client, clock, settings.bodhi_bearer_cache_seconds)
    principal = AuthContext(
        kind="api_token", user_id=str(uuid.uuid4()), username="bench", token_scope=Level.USER,
        token_id=str(uuid.uuid4()),
    )  # fmt: skip
    auth = CountingAuth(principal)
    listener = asyncio.create_task(cache.listen())  # the cache stores only while it listens
    try:
        for _ in range(250):
            cache.put(token_digest("bench-probe"), principal, None)
            if cache.get(token_digest("bench-probe")) is not None:
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError("the bearer cache never subscribed to its invalidation channel")
        for i in range(CACHE_ENTRIES - 2):
            cache.put(token_digest(f"bodhiapp_other-{i}"), principal, None)
        token = "bodhiapp_" + secrets.token_urlsafe(32)
        authenticator = Authenticator(
            auth, SessionStore(client, clock, idle=7200, absolute=86400), cache,
            RateLimits(client, clock, settings), client, Web(settings), clock,
        )  # fmt: skip
        header = f"Bearer {token}".encode()
        first = await authenticator.context(ASGIConnection(bearer_scope(header)))
        assert first.kind == "api_token"
        assert auth.calls == 1
        digest = token_digest(token)
        assert cache.get(digest) is not None
        tasks_before = len(asyncio.all_tasks())

        async def batch_us(header: bytes | None, kind: str, size: int = 5_000) -> float:
            connections: list[Connection] = [
                ASGIConnection(bearer_scope(header)) for _ in range(size)
            ]
            started = time.perf_counter()
            for connection in connections:
                await authenticator.context(connection)
            elapsed = time.perf_counter() - started
            assert (await authenticator.context(connections[0])).kind == kind
            return elapsed / size * 1e6

        # Alternating batches, so that drift on a noisy box hits both alike.
        bearer_batches: list[float] = []
        anonymous_batches: list[float] = []
        for b in range(max(2, calls // 5_000)):
            pair = [(header, "api_token", bearer_batches), (None, "anonymous", anonymous_batches)]
            for batch_header, kind, out in pair[b % 2 :] + pair[: b % 2]:
                out.append(await batch_us(batch_header, kind))
        bearer_us = statistics.median(bearer_batches)
        anonymous_us = statistics.median(anonymous_batches)
        context_diff_us = statistics.median(
            b - a for b, a in zip(bearer_batches, anonymous_batches, strict=True)
        )
        calls_on_warm_path = auth.calls - 1
        new_tasks = len(asyncio.all_tasks()) - tasks_before
        single: list[float] = []
        for _ in range(20_000):
            started = time.perf_counter_ns()
            cache.get(token_digest(token))
            single.append((time.perf_counter_ns() - started) / 1000)
        timer: list[float] = []
        for _ in range(20_000):
            started = time.perf_counter_ns()
            timer.append((time.perf_counter_ns() - started) / 1000)
        return {
            "cache_entries": CACHE_ENTRIES,
            "calls": calls,
            "token_digest_us": round(per_call_us(lambda: token_digest(token), calls), 3),
            "cache_get_us": round(per_call_us(lambda: cache.get(digest), calls), 3),
            "digest_plus_get_us": round(
                per_call_us(lambda: cache.get(token_digest(token)), calls), 3
            ),
            "digest_plus_get_p50_us": round(percentile(single, 0.5), 3),
            "digest_plus_get_p99_us": round(percentile(single, 0.99), 3),
            "timer_overhead_p50_us": round(percentile(timer, 0.5), 3),
            "context_bearer_us": round(bearer_us, 3),
            "context_anonymous_us": round(anonymous_us, 3),
            "context_bearer_minus_anonymous_us": round(context_diff_us, 3),
            "auth_calls_on_warm_path": calls_on_warm_path,
            "auth_calls_counted_over": 5_000 * len(bearer_batches),
            "background_tasks_started": new_tasks,
        }
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await client.aclose()
