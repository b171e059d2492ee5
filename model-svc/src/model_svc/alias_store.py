"""model-svc SQL for user aliases and the GGUF metadata cache."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from bodhi_common.errors import AlreadyExists, NotFound
from model_svc.domain import ModelMetadata, RequestParams, UserAlias

_ALIAS = (
    "alias, repo, filename, snapshot, request_params::text, context_params, created_at, updated_at"
)


class AliasStore:
    """Queries on user_aliases and gguf_metadata."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    async def all(self) -> list[UserAlias]:
        """Every user alias, by name."""
        rows = await self._pool.fetch(f"SELECT {_ALIAS} FROM user_aliases ORDER BY alias")
        return [_alias(r) for r in rows]

    async def get(self, alias: str) -> UserAlias:
        """One user alias, or NotFound."""
        row = await self._pool.fetchrow(
            f"SELECT {_ALIAS} FROM user_aliases WHERE alias = $1", alias
        )
        if row is None:
            raise NotFound(f"alias {alias!r} not found", code="alias_not_found", param="alias")
        return _alias(row)

    async def create(self, alias: UserAlias, at: datetime) -> UserAlias:
        """A new alias; AlreadyExists when the name is taken."""
        try:
            row = await self._pool.fetchrow(
                f"INSERT INTO user_aliases VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $7)"
                f" RETURNING {_ALIAS}",
                *_columns(alias), at,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(
                f"alias {alias.alias!r} already exists", code="alias_exists", param="alias"
            ) from None
        return _alias(row)

    async def upsert(self, alias: UserAlias, at: datetime) -> tuple[UserAlias, bool]:
        """Create or replace (parameters are replaced, not merged); (alias, created)."""
        row = await self._pool.fetchrow(
            f"""INSERT INTO user_aliases VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $7)
            ON CONFLICT (alias) DO UPDATE SET repo = EXCLUDED.repo, filename = EXCLUDED.filename,
                snapshot = EXCLUDED.snapshot, request_params = EXCLUDED.request_params,
                context_params = EXCLUDED.context_params, updated_at = EXCLUDED.updated_at
            RETURNING {_ALIAS}, (xmax = 0) AS created""",
            *_columns(alias), at,
        )  # fmt: skip
        return _alias(row), bool(row["created"])  # type: ignore[index]

    async def delete(self, alias: str) -> None:
        """Remove an alias (NotFound when absent)."""
        status = await self._pool.execute("DELETE FROM user_aliases WHERE alias = $1", alias)
        if status != "DELETE 1":
            raise NotFound(f"alias {alias!r} not found", code="alias_not_found", param="alias")

    async def cached_metadata(self, path: str, size: int, mtime_ns: int) -> ModelMetadata | None:
        """Metadata read before from this exact file."""
        raw = await self._pool.fetchval(
            "SELECT metadata::text FROM gguf_metadata WHERE path = $1 AND size = $2"
            " AND mtime_ns = $3",
            path, size, mtime_ns,
        )  # fmt: skip
        return None if raw is None else msgspec.json.decode(raw, type=ModelMetadata)

    async def cache_metadata(
        self, path: str, size: int, mtime_ns: int, meta: ModelMetadata
    ) -> None:
        """Remember a file's metadata."""
        await self._pool.execute(
            "INSERT INTO gguf_metadata VALUES ($1, $2, $3, $4::text::jsonb) ON CONFLICT (path)"
            " DO UPDATE SET size = $2, mtime_ns = $3, metadata = $4::text::jsonb",
            path, size, mtime_ns, msgspec.json.encode(meta).decode(),
        )  # fmt: skip


def _columns(alias: UserAlias) -> tuple[Any, ...]:
    params = msgspec.json.encode(alias.request_params).decode()
    return alias.alias, alias.repo, alias.filename, alias.snapshot, params, alias.context_params


def _alias(row: asyncpg.Record | None) -> UserAlias:
    assert row is not None, "RETURNING always yields the row"
    return UserAlias(
        alias=row["alias"],
        repo=row["repo"],
        filename=row["filename"],
        snapshot=row["snapshot"],
        request_params=msgspec.json.decode(row["request_params"], type=RequestParams),
        context_params=list(row["context_params"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
