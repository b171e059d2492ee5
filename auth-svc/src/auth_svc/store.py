"""auth-svc SQL for the installation, people and their roles, and granted third-party apps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from auth_svc.domain import AppStatus, Role, User
from bodhi_common.errors import FailedPrecondition, NotFound

_USER = "user_id, username, email, first_name, last_name, role"
_SETUP_LOCK = 0x5E7_0A99


class App(msgspec.Struct, frozen=True, kw_only=True):
    """The installation's row."""

    status: AppStatus
    client_id: str | None
    redirect_uris: list[str]


class AuthStore:
    """Queries on auth-svc's own database."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    async def app_status(self) -> AppStatus:
        """The installation's status; `setup` until setup has stored a row."""
        status = await self._pool.fetchval("SELECT status FROM app")
        return AppStatus(status) if status is not None else AppStatus.SETUP

    async def app(self) -> App | None:
        """The installation, or None before setup."""
        row = await self._pool.fetchrow("SELECT status, client_id, redirect_uris FROM app")
        if row is None:
            return None
        return App(
            status=AppStatus(row["status"]),
            client_id=row["client_id"],
            redirect_uris=list(row["redirect_uris"]),
        )

    @asynccontextmanager
    async def setup_lock(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy[Any]]:
        """A transaction holding the setup lock, so two setups never register two clients."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SETUP_LOCK)
            yield conn

    @staticmethod
    async def insert_app(
        conn: Any, *, name: str, description: str, client_id: str, redirect_uris: list[str],
        at: datetime,
    ) -> None:  # fmt: skip
        """Record the registered client; the status becomes resource-admin."""
        await conn.execute(
            "INSERT INTO app (status, name, description, client_id, redirect_uris, created_at,"
            " updated_at) VALUES ('resource-admin', $1, $2, $3, $4, $5, $5)",
            name, description, client_id, redirect_uris, at,
        )  # fmt: skip

    async def upsert_user(self, user: User, issuer: str, at: datetime) -> User:
        """Create or refresh a person from a login; the first login while the app awaits its
        admin makes that person admin and the app ready (in one transaction). Returns the user
        with their current role."""
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.fetchval("SELECT status FROM app")
            if status == AppStatus.RESOURCE_ADMIN:
                # Only while the app awaits its admin do logins race for the role: lock then
                # (and read again), so exactly one becomes admin; later logins take no lock.
                status = await conn.fetchval("SELECT status FROM app FOR UPDATE")
            role = Role.ADMIN.wire if status == AppStatus.RESOURCE_ADMIN else None
            row = await conn.fetchrow(
                f"""INSERT INTO users ({_USER}, issuer, created_at, updated_at, last_login_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)
                ON CONFLICT (user_id) DO UPDATE SET username = EXCLUDED.username,
                    email = EXCLUDED.email, first_name = EXCLUDED.first_name,
                    last_name = EXCLUDED.last_name, updated_at = EXCLUDED.updated_at,
                    last_login_at = EXCLUDED.last_login_at,
                    role = COALESCE(EXCLUDED.role, users.role)
                RETURNING {_USER}""",
                user.user_id, user.username, user.email, user.first_name, user.last_name,
                role, issuer, at,
            )  # fmt: skip
            if role is not None:
                await conn.execute("UPDATE app SET status = 'ready', updated_at = $1", at)
        return _user(row)

    async def user(self, user_id: str) -> User:
        """A known person, or NotFound."""
        row = await self._pool.fetchrow(f"SELECT {_USER} FROM users WHERE user_id = $1", user_id)
        if row is None:
            raise NotFound("user not found", code="user_not_found", param="user_id")
        return _user(row)

    async def users(self, limit: int, offset: int) -> tuple[list[User], int]:
        """A page of people by username, and the total."""
        rows = await self._pool.fetch(
            f"SELECT {_USER}, count(*) OVER () AS total FROM users"
            " ORDER BY username, user_id LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
        if not rows:
            return [], int(await self._pool.fetchval("SELECT count(*) FROM users"))
        total = rows[0]["total"]
        return [_user(r) for r in rows], int(total)

    async def set_role(self, user_id: str, role: Role | None, at: datetime) -> User:
        """Change (or, with None, remove) a person's role; the last admin always stays admin."""
        async with self._pool.acquire() as conn, conn.transaction():
            # Serialise role changes so two demotions cannot both see "another admin left".
            await conn.execute("SELECT 1 FROM app FOR UPDATE")
            current = await conn.fetchval("SELECT role FROM users WHERE user_id = $1", user_id)
            admins = await conn.fetchval("SELECT count(*) FROM users WHERE role = 'resource_admin'")
            if current == Role.ADMIN.wire and role != Role.ADMIN and admins <= 1:
                raise FailedPrecondition(
                    "the last admin cannot be demoted or removed", code="last_admin"
                )
            row = await conn.fetchrow(
                f"UPDATE users SET role = $2, updated_at = $3 WHERE user_id = $1 RETURNING {_USER}",
                user_id, role.wire if role else None, at,
            )  # fmt: skip
        if row is None:
            raise NotFound("user not found", code="user_not_found", param="user_id")
        return _user(row)

    async def grant_app(self, client_id: str, at: datetime) -> None:
        """Allow a third-party client's user tokens here (idempotent)."""
        await self._pool.execute(
            "INSERT INTO app_clients (client_id, granted_at) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            client_id,
            at,
        )

    async def app_granted(self, client_id: str) -> bool:
        """Whether a third-party client was granted access."""
        found = await self._pool.fetchval(
            "SELECT true FROM app_clients WHERE client_id = $1", client_id
        )
        return bool(found)


def _user(row: asyncpg.Record | None) -> User:
    assert row is not None, "RETURNING always yields the row"
    return User(
        user_id=row["user_id"],
        username=row["username"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        role=Role.parse(row["role"]),
    )
