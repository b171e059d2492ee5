"""PostgreSQL LISTEN for the life of a service: one connection of its own, reconnected when it
drops, with hooks when it comes up and goes down (caches trust what they hold only while a
change would reach them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 1.0


async def listen_forever(
    database_url: str,
    channel: str,
    on_change: Callable[[str], None],
    on_up: Callable[[], None],
    on_down: Callable[[], None],
) -> None:
    """Call `on_change(payload)` for each NOTIFY on `channel`; `on_up` once listening, `on_down`
    whenever the connection is lost (then reconnect). Runs until cancelled."""
    while True:
        try:
            conn = await asyncpg.connect(database_url, timeout=10)
        except (OSError, asyncpg.PostgresError, TimeoutError) as err:
            log.warning(
                "listener cannot connect", extra={"channel": channel, "error": type(err).__name__}
            )
            await asyncio.sleep(RECONNECT_SECONDS)
            continue
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
        try:
            await conn.add_listener(channel, lambda _c, _p, _ch, payload: on_change(str(payload)))
            on_up()
            await lost.wait()
        finally:
            on_down()
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
        await asyncio.sleep(RECONNECT_SECONDS)
