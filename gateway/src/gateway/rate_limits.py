"""Per-client rate limits, counted in Redis so that they hold across every gateway instance:
invalid bearer tokens and failed login callbacks per client address (against guessing), and
the routes that make the server call out (model pulls, provider checks) per person.

Every limit fails open: while Redis is unreachable nobody is refused and, for a few seconds
after a failure, Redis is not even asked (a hung Redis costs one socket timeout, not one per
request). Failing closed would turn a Redis outage into an outage of bearer-token callers, who do
not otherwise need Redis; the limits are a second line (tokens are 256-bit random, logins are
bound to a one-time state), so a few minutes without them is the smaller harm. A successful
request with a cached bearer token never reaches this module (no round-trip on the chat path)."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from redis.asyncio import Redis

from bodhi_common.clock import Clock
from bodhi_common.errors import ResourceExhausted
from gateway.pause import Pause
from gateway.redis_down import REDIS_DOWN
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

_PREFIX = "bodhi:"
_GOOD_PREFIX = "bodhi:good-bearer:"
_GOOD_SECONDS = 86_400
_PAUSE_SECONDS = 5.0  # after a Redis failure, leave it alone this long


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address (uvicorn takes it from X-Forwarded-For only for trusted proxies)."""
    return connection.client.host if connection.client else ""


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """At most `limit` events per `seconds` per key; over it, 429 with `code`."""

    name: str
    limit: int
    seconds: int
    code: str
    message: str


class RateLimited(ResourceExhausted):
    """A limit was reached (HTTP 429 with Retry-After)."""

    def __init__(self, window: Window, retry_after: int) -> None:
        super().__init__(window.message, code=window.code)
        self.retry_after = retry_after


class Counters:
    """Fixed-window counters in Redis: one round-trip per count or check."""

    def __init__(self, redis: Redis, clock: Clock) -> None:
        self._redis = redis
        self._paused = Pause(clock, _PAUSE_SECONDS)

    async def add(self, window: Window, key: str) -> tuple[int, int]:
        """Count one event: the count so far in this window and the seconds left of it
        ((0, 0) when Redis is unreachable)."""
        if self._paused.active:
            return 0, 0
        name = _PREFIX + window.name + ":" + key
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window.seconds, nx=True)
                pipe.ttl(name)
                count, _, ttl = await pipe.execute()
        except REDIS_DOWN:
            self._pause()
            return 0, 0
        return int(count), max(int(ttl), 1)

    async def wait(self, window: Window, key: str) -> int:
        """Seconds until `key` may act again in `window` (0: it may now)."""
        if self._paused.active:
            return 0
        name = _PREFIX + window.name + ":" + key
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(name)
                pipe.ttl(name)
                count, ttl = await pipe.execute()
        except REDIS_DOWN:
            self._pause()
            return 0
        if count is None or int(count) < window.limit:
            return 0
        return max(int(ttl), 1)

    async def flag(self, name: str, seconds: int) -> None:
        """Remember a fact (e.g. a token that worked) for `seconds`."""
        if self._paused.active:
            return
        try:
            await self._redis.set(name, 1, ex=seconds)
        except REDIS_DOWN:
            self._pause()

    async def flagged(self, name: str) -> bool:
        """Whether a fact is remembered (False when Redis cannot say)."""
        if self._paused.active:
            return False
        try:
            return bool(await self._redis.exists(name))
        except REDIS_DOWN:
            self._pause()
            return False

    def _pause(self) -> None:
        log.warning("rate limits unavailable (Redis); not enforced for a few seconds")
        self._paused.start()


class RateLimits:
    """The gateway's limits, from the settings."""

    def __init__(self, redis: Redis, clock: Clock, settings: GatewaySettings) -> None:
        self.counters = Counters(redis, clock)
        s = settings
        self.invalid_bearer = Window(
            name="bad-bearer", limit=s.bodhi_invalid_bearer_limit, seconds=60,
            code="too_many_invalid_tokens",
            message="too many invalid tokens from this client; wait a minute",
        )  # fmt: skip
        self.failed_login = Window(
            name="bad-login", limit=s.bodhi_failed_login_limit, seconds=300,
            code="too_many_failed_logins",
            message="too many failed logins from this client; wait a few minutes",
        )  # fmt: skip
        self.pulls = Window(
            name="pulls", limit=s.bodhi_pull_limit, seconds=60, code="too_many_pulls",
            message="too many model pulls started in the last minute; wait a minute",
        )  # fmt: skip
        self.provider_checks = Window(
            name="provider-checks", limit=s.bodhi_provider_check_limit, seconds=60,
            code="too_many_provider_checks",
            message="too many calls to model providers in the last minute; wait a minute",
        )  # fmt: skip

    async def spend(self, window: Window, key: str) -> None:
        """Count one use of `window` by `key`, refusing it past the limit."""
        count, left = await self.counters.add(window, key)
        if count > window.limit:
            raise RateLimited(window, left)

    async def refuse_if_over(self, window: Window, key: str) -> None:
        """Refuse `key` while it is over the limit (failures are counted by `failed`)."""
        wait = await self.counters.wait(window, key)
        if wait:
            raise RateLimited(window, wait)

    async def failed(self, window: Window, key: str) -> None:
        """Count one failure of `key`."""
        await self.counters.add(window, key)

    async def bearer_blocked(self, client: str, digest: str) -> int:
        """Seconds to refuse this token unchecked: the client sent too many invalid tokens
        lately and this one is not known to have worked (0: check it). The throttle is against
        guessing, not against tokens in use."""
        wait = await self.counters.wait(self.invalid_bearer, client)
        if wait and not await self.counters.flagged(_GOOD_PREFIX + digest):
            return wait
        return 0

    async def bearer_worked(self, digest: str) -> None:
        """Remember for a day that a token (by digest) was valid."""
        await self.counters.flag(_GOOD_PREFIX + digest, _GOOD_SECONDS)
