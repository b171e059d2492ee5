"""The bearer cache caches only while it hears its invalidation channel: a Redis that hangs (a
blackholed link, as a SIGSTOPped server or a cut without RST) turns the cache off within two
heartbeats, and it comes back on once the channel is heard again (issue #9)."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis

from bodhi_common.clock import SystemClock
from bodhi_common.tasks import cancel
from bodhi_devstack.faults import FaultProxy
from gateway.bearer_cache import BearerCache

HEARTBEAT = 0.2


async def until(cache: BearerCache, *, listening: bool) -> bool:
    for _ in range(200):  # a no-hang deadline of 10 s, not a timing assertion
        if cache.listening is listening:
            return True
        await asyncio.sleep(0.05)
    return cache.listening is listening


async def test_a_hung_redis_turns_the_cache_off_and_a_healed_one_back_on(redis_url: str) -> None:
    parts = urlsplit(redis_url)
    with FaultProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        proxied = urlunsplit(parts._replace(netloc=proxy.address))
        redis = Redis.from_url(proxied, socket_timeout=0.5, socket_connect_timeout=0.5)
        cache = BearerCache(redis, SystemClock(), ttl=60, heartbeat=HEARTBEAT)
        listener = asyncio.create_task(cache.listen())
        try:
            assert await until(cache, listening=True)
            proxy.blackhole()
            assert await until(cache, listening=False), "still caching with Redis hung"
            proxy.heal()
            assert await until(cache, listening=True), "did not resume after heal"
        finally:
            await cancel(listener)
            with contextlib.suppress(Exception):
                await redis.aclose()
