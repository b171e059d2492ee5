"""The gateway's own runtime-editable settings (it has no database): stored in Redis, audited
there, and re-read by every gateway replica when one of them publishes a change."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec
from redis.asyncio import Redis

from bodhi_common import logs
from bodhi_common.live_settings import LiveSettings
from gateway.sessions import SessionStore

log = logging.getLogger(__name__)
KEY = "bodhi:settings:gateway"
AUDIT = "bodhi:settings:audit"
CHANNEL = "bodhi:settings:changed"
_AUDIT_KEPT = 1000


class RedisSettingStore:
    """Stored values in one Redis hash; an audit list of the last changes."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def load(self) -> dict[str, Any]:
        """Every stored value."""
        raw = await self._redis.hgetall(KEY)
        return {_text(k): msgspec.json.decode(v) for k, v in raw.items()}

    async def put(self, key: str, value: Any, actor: str) -> None:
        """Store a value, record who did, tell every replica."""
        await self._write(key, value, actor)

    async def delete(self, key: str, actor: str) -> None:
        """Remove a stored value, record who did, tell every replica."""
        await self._write(key, None, actor)

    async def _write(self, key: str, value: Any, actor: str) -> None:
        entry = msgspec.json.encode({"key": key, "value": value, "actor": actor, "at": time.time()})
        async with self._redis.pipeline(transaction=True) as pipe:
            if value is None:
                pipe.hdel(KEY, key)
            else:
                pipe.hset(KEY, key, msgspec.json.encode(value))
            pipe.lpush(AUDIT, entry)
            pipe.ltrim(AUDIT, 0, _AUDIT_KEPT - 1)
            pipe.publish(CHANNEL, key)
            await pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def gateway_settings(
    settings: msgspec.Struct, environ: Any, redis: Redis, sessions: SessionStore
) -> LiveSettings:
    """The gateway's LiveSettings with its editable keys."""
    live = LiveSettings(settings, environ, RedisSettingStore(redis))
    live.editable("BODHI_LOG_LEVEL", logs.set_level)
    live.editable("BODHI_SESSION_IDLE_SECONDS", sessions.set_idle)
    return live


async def follow(live: LiveSettings, redis: Redis) -> None:
    """Apply stored values now and after every change any replica announces; until cancelled.
    With Redis away, the values last applied stay in force."""
    while True:
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL)
                await live.refresh()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if message is not None:
                        await live.refresh()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("settings channel lost; keeping the values in force")
        await asyncio.sleep(1)
