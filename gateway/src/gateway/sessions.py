"""Browser sessions in Redis. The session id (256 random bits) is the only thing the browser
holds; the provider's tokens stay here. Idle and absolute timeouts are enforced on every read,
a per-user index lets "log this user out everywhere" work, and every Redis failure is a clear
503 (never an anonymous fallback)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import TypeVar

import msgspec
from redis.asyncio import Redis

from bodhi_common.clock import Clock
from bodhi_common.errors import Unavailable
from gateway.redis_down import REDIS_DOWN

T = TypeVar("T")
_PREFIX = "bodhi:session:"
_USER_INDEX = "bodhi:user-sessions:"
# Writing last_seen_at on every request would be a Redis write per request; a quarter of the
# idle timeout (at most a minute) is precise enough.
_TOUCH_AT_MOST = 60.0


class Session(msgspec.Struct, kw_only=True):
    """What the gateway keeps for a logged-in browser."""

    user_id: str
    username: str
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    access_token: str
    refresh_token: str
    access_expires_at: float
    created_at: float
    last_seen_at: float


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Session).decode


class SessionStore:
    """Create, read, save and delete sessions."""

    def __init__(self, redis: Redis, clock: Clock, *, idle: float, absolute: float) -> None:
        self._redis = redis
        self._clock = clock
        self._absolute = absolute
        self.set_idle(idle)

    def set_idle(self, idle: float) -> None:
        """Sessions end after `idle` seconds without a request (BODHI_SESSION_IDLE_SECONDS,
        editable live; a session's next request applies the new limit)."""
        self._idle = idle
        self._touch_every = min(_TOUCH_AT_MOST, idle / 4)

    async def create(self, session: Session) -> str:
        """Store a new session under a fresh id; returns the id."""
        session_id = secrets.token_urlsafe(32)
        await _guard(self._write(session_id, session))
        return session_id

    async def _write(self, session_id: str, session: Session) -> None:
        ttl = max(1, int(min(self._idle, session.created_at + self._absolute - self._clock.now())))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(_PREFIX + session_id, _encode(session), ex=ttl)
            pipe.sadd(_USER_INDEX + session.user_id, session_id)
            pipe.expire(_USER_INDEX + session.user_id, int(self._absolute))
            await pipe.execute()

    async def get(self, session_id: str) -> Session | None:
        """The live session, or None when unknown or timed out (a timed-out one is deleted)."""
        raw = await _guard(self._redis.get(_PREFIX + session_id))
        if raw is None:
            return None
        session = _decode(raw)
        now = self._clock.now()
        if now - session.last_seen_at > self._idle or now - session.created_at > self._absolute:
            await self.delete(session_id)
            return None
        if now - session.last_seen_at > self._touch_every:
            session.last_seen_at = now
            await _guard(self._write(session_id, session))
        return session

    async def save(self, session_id: str, session: Session) -> None:
        """Write back a changed session (e.g. after a token refresh)."""
        await _guard(self._write(session_id, session))

    async def delete(self, session_id: str) -> None:
        """End one session."""
        raw = await _guard(self._redis.getdel(_PREFIX + session_id))
        if raw is not None:
            user_id = _decode(raw).user_id
            await _guard(self._redis.srem(_USER_INDEX + user_id, session_id))

    async def delete_user(self, user_id: str) -> int:
        """End every session of a person; returns how many there were."""
        ids = await _guard(self._redis.smembers(_USER_INDEX + user_id))
        keys = [_PREFIX + (i.decode() if isinstance(i, bytes) else i) for i in ids]
        async with self._redis.pipeline(transaction=True) as pipe:
            if keys:
                pipe.delete(*keys)
            pipe.delete(_USER_INDEX + user_id)
            await _guard(pipe.execute())
        return len(keys)


async def _guard(operation: Awaitable[T]) -> T:
    try:
        return await operation
    except REDIS_DOWN:
        raise Unavailable(
            "the session store is unavailable, try again shortly",
            code="session_store_unavailable",
        ) from None
