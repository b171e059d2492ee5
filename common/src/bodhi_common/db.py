"""The PostgreSQL pool of a service, opened with a deadline and a clear one-line failure."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import asyncpg

from bodhi_common.clock import Clock
from bodhi_common.config import mask_url
from bodhi_common.errors import StartupError

log = logging.getLogger(__name__)

# Errors that will not go away by waiting: fail at once instead of retrying until the deadline.
_PERMANENT = (
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidPasswordError,
    asyncpg.InvalidAuthorizationSpecificationError,
    ValueError,  # a DSN asyncpg cannot parse
)


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    # jsonb columns come back as Python values, not strings.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def open_pool(
    url: str, *, max_size: int, timeout: float, clock: Clock
) -> asyncpg.Pool[asyncpg.Record]:
    """Open a pool, retrying refused connections until `timeout` so a database that is still
    starting is waited for; a wrong database name or password fails at once."""
    deadline = clock.monotonic() + timeout
    while True:
        try:
            return await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=max_size,
                timeout=max(0.5, deadline - clock.monotonic()),
                command_timeout=30,
                init=_init_connection,
            )
        except _PERMANENT as exc:
            raise StartupError(f"cannot use database {mask_url(url)}: {_reason(exc)}") from None
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            if clock.monotonic() >= deadline:
                where = f"database {mask_url(url)} within {timeout:g}s"
                raise StartupError(f"cannot connect to {where}: {_reason(exc)}") from None
            log.info("database not reachable yet, retrying", extra={"reason": _reason(exc)})
            await asyncio.sleep(0.25)


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
