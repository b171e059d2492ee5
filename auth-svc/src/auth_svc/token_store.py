"""auth-svc SQL for API tokens."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from auth_svc.domain import ApiToken, Role, TokenStatus
from bodhi_common.errors import NotFound

_COLUMNS = ("id", "user_id", "name", "token_prefix", "scope", "status", "created_at", "updated_at")
_TOKEN = ", ".join((*_COLUMNS, "last_used_at"))


class StoredToken(msgspec.Struct, frozen=True, kw_only=True):
    """A token row as the bearer check needs it, with its owner's current role."""

    token: ApiToken
    token_hash: str
    owner_username: str
    owner_role: Role | None


class TokenStore:
    """Queries on the api_tokens table."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    async def insert(
        self, *, user_id: str, name: str, prefix: str, digest: str, scope: Role, at: datetime
    ) -> ApiToken:
        """Store a new active token (prefixes are unique; a clash is practically impossible
        with 48 random bits and surfaces as a database error)."""
        row = await self._pool.fetchrow(
            f"INSERT INTO api_tokens ({', '.join(_COLUMNS)}, token_hash)"
            f" VALUES ($1, $2, $3, $4, $5, 'active', $6, $6, $7) RETURNING {_TOKEN}",
            uuid.uuid4(), user_id, name, prefix, _scope_wire(scope), at, digest,
        )  # fmt: skip
        return _token(row)

    async def by_prefix(self, prefix: str) -> StoredToken | None:
        """The token with this lookup prefix, with its owner's role."""
        row = await self._pool.fetchrow(
            f"SELECT {', '.join('t.' + c for c in _TOKEN.split(', '))}, t.token_hash,"
            " u.username, u.role AS owner_role FROM api_tokens t"
            " JOIN users u USING (user_id) WHERE t.token_prefix = $1",
            prefix,
        )
        if row is None:
            return None
        return StoredToken(
            token=_token(row),
            token_hash=row["token_hash"],
            owner_username=row["username"],
            owner_role=Role.parse(row["owner_role"]),
        )

    async def list(self, user_id: str, limit: int, offset: int) -> tuple[list[ApiToken], int]:
        """A person's tokens, newest first, and the total."""
        rows = await self._pool.fetch(
            f"SELECT {_TOKEN}, count(*) OVER () AS total FROM api_tokens WHERE user_id = $1"
            " ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
            user_id, limit, offset,
        )  # fmt: skip
        if rows:
            return [_token(r) for r in rows], int(rows[0]["total"])
        total = await self._pool.fetchval(
            "SELECT count(*) FROM api_tokens WHERE user_id = $1", user_id
        )
        return [], int(total)

    async def update(
        self, user_id: str, token_id: str, name: str | None, status: TokenStatus | None,
        at: datetime,
    ) -> ApiToken:  # fmt: skip
        """Rename and/or (de)activate one of a person's tokens."""
        row = await self._pool.fetchrow(
            f"UPDATE api_tokens SET name = COALESCE($3, name), status = COALESCE($4, status),"
            f" updated_at = $5 WHERE id = $1 AND user_id = $2 RETURNING {_TOKEN}",
            _uuid(token_id), user_id, name, status, at,
        )  # fmt: skip
        if row is None:
            raise _not_found()
        return _token(row)

    async def delete(self, user_id: str, token_id: str) -> None:
        """Delete one of a person's tokens."""
        status = await self._pool.execute(
            "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2", _uuid(token_id), user_id
        )
        if status != "DELETE 1":
            raise _not_found()

    async def touch(self, token_ids: Iterable[str], at: datetime) -> None:
        """Record use of tokens (batched, off the request path)."""
        await self._pool.execute(
            "UPDATE api_tokens SET last_used_at = $2 WHERE id = ANY($1::uuid[])",
            list(token_ids),
            at,
        )


def _scope_wire(scope: Role) -> str:
    return f"scope_token_{scope.name.lower()}"


def _uuid(token_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(token_id)
    except ValueError:
        raise _not_found() from None


def _not_found() -> NotFound:
    return NotFound("API token not found", code="token_not_found", param="id")


def _token(row: asyncpg.Record | None) -> ApiToken:
    assert row is not None, "RETURNING always yields the row"
    return ApiToken(
        id=str(row["id"]),
        user_id=row["user_id"],
        name=row["name"],
        token_prefix=row["token_prefix"],
        scope=Role[row["scope"].removeprefix("scope_token_").upper()],
        status=TokenStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_used_at=row["last_used_at"],
    )
