"""auth-svc SQL."""

from __future__ import annotations

from typing import Any

import asyncpg

from auth_svc.domain import AppStatus


class AuthStore:
    """Queries on auth-svc's own database."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    async def app_status(self) -> AppStatus:
        """The installation's status; `setup` until setup has stored a row."""
        status = await self._pool.fetchval("SELECT status FROM app")
        return AppStatus(status) if status is not None else AppStatus.SETUP
