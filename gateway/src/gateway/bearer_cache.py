"""Verified bearer tokens, remembered in this process by the SHA-256 of the token for at most
60 s and never past the token's own expiry, so a warm call costs a dict lookup (no auth-svc, no
provider). While auth-svc cannot be reached, a token verified within the last few minutes
(BODHI_BEARER_STALE_SECONDS) is still accepted, so an auth-svc outage does not stop warm callers.
A change to a token or a person is published on a Redis channel that every gateway instance
listens to, so a deactivated token stops working everywhere within a second; while this
instance is not subscribed it caches nothing (it cannot hear invalidations)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict

from redis.asyncio import Redis

from bodhi_common.clock import Clock
from bodhi_common.metrics import HitCounter
from gateway.identity import AuthContext
from gateway.redis_down import REDIS_DOWN

log = logging.getLogger(__name__)

CHANNEL = "bodhi:auth-invalidate"
_MAX_ENTRIES = 10_000
# A quiet channel is pinged (a message to ourselves) this often; not hearing anything for two
# periods means the subscription is dead or Redis hangs, and the cache goes off. Without it a
# hung Redis (SIGSTOP, a network cut without RST) left the cache on, deaf to invalidations.
_HEARTBEAT_SECONDS = 5.0
_PING = "ping:"


def token_digest(token: str) -> str:
    """The cache key of a token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


class BearerCache:
    """digest → (AuthContext, fresh until, usable until while auth-svc cannot be asked)."""

    def __init__(
        self,
        redis: Redis,
        clock: Clock,
        ttl: float,
        *,
        stale: float = 0.0,
        heartbeat: float = _HEARTBEAT_SECONDS,
    ) -> None:
        self._redis = redis
        self._heartbeat = heartbeat
        self._clock = clock
        self._ttl = ttl
        self._stale = stale
        self._entries: OrderedDict[str, tuple[AuthContext, float, float]] = OrderedDict()
        self._listening = False
        self.lookups = HitCounter()

    @property
    def listening(self) -> bool:
        """Subscribed and hearing the channel: only then are tokens cached."""
        return self._listening

    def get(self, digest: str) -> AuthContext | None:
        """A cached context still valid now."""
        entry = self._entries.get(digest)
        if entry is None:
            self.lookups.misses += 1
            return None
        now = self._clock.now()
        if now >= entry[1]:
            if now >= entry[2]:
                del self._entries[digest]
            self.lookups.misses += 1
            return None
        self.lookups.hits += 1
        return entry[0]

    def stale(self, digest: str) -> AuthContext | None:
        """A context verified at most `ttl + stale` seconds ago (never past the token's own
        expiry), for when auth-svc cannot be asked: a token or person changes only through
        auth-svc, and invalidations heard meanwhile still drop the entry; while the channel is
        not heard, nothing is served stale."""
        entry = self._entries.get(digest)
        if entry is None or not self._listening or self._clock.now() >= entry[2]:
            return None
        return entry[0]

    def put(self, digest: str, ctx: AuthContext, expires_at: float | None) -> None:
        """Remember a verified token (only while invalidations can be heard)."""
        if not self._listening:
            return
        now = self._clock.now()
        until, usable = now + self._ttl, now + self._ttl + self._stale
        if expires_at is not None:
            until, usable = min(until, expires_at), min(usable, expires_at)
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.popitem(last=False)
        self._entries[digest] = (ctx, until, usable)

    def drop(self, message: str) -> None:
        """Forget entries named by an invalidation: `token:<id>`, `user:<id>` or `all`."""
        kind, _, key = message.partition(":")
        if kind == "ping":
            return
        if kind == "all":
            self._entries.clear()
            return
        field = "token_id" if kind == "token" else "user_id"
        for digest in [d for d, (ctx, *_) in self._entries.items() if getattr(ctx, field) == key]:
            del self._entries[digest]

    async def publish(self, message: str) -> None:
        """Tell every instance (this one included) to drop entries."""
        self.drop(message)
        try:
            await self._redis.publish(CHANNEL, message)
        except REDIS_DOWN:
            log.warning("could not publish an auth invalidation; other instances expire it")

    async def listen(self) -> None:
        """Follow the invalidation channel until cancelled, resubscribing after failures."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis gone: stop caching until we hear the channel again
                log.warning("auth invalidation channel lost; bearer cache off until it is back")
            self._listening = False
            self._entries.clear()
            await asyncio.sleep(1)

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._redis.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            self._listening = True
            heard = loop.time()
            while True:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=self._heartbeat
                )
                if message is not None:
                    heard = loop.time()
                    data = message["data"]
                    self.drop(data.decode() if isinstance(data, bytes) else str(data))
                    continue
                if loop.time() - heard > 2 * self._heartbeat:
                    raise ConnectionError("the invalidation channel went silent")
                await self._redis.publish(CHANNEL, _PING)  # a hung Redis times out here
