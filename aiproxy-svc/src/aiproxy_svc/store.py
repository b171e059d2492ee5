"""aiproxy-svc SQL for API models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from aiproxy_svc.domain import ApiModel, ApiModelFields
from bodhi_common.errors import AlreadyExists, NotFound

_COLUMNS = "id, api_format, base_url, models, prefix, api_key_masked, created_at, updated_at"


def not_found(model_id: str) -> NotFound:
    """The error for an unknown API model id."""
    return NotFound(f"api model {model_id!r} not found", code="api_model_not_found", param="id")


class ApiModelStore:
    """Queries on api_models."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    async def all(self) -> list[ApiModel]:
        """Every API model, newest first."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM api_models ORDER BY created_at DESC, id"
        )
        return [_model(r) for r in rows]

    async def page(self, offset: int, limit: int) -> tuple[list[ApiModel], int]:
        """One page of API models, newest first, and how many there are."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM api_models ORDER BY created_at DESC, id"
                " OFFSET $1 LIMIT $2",
                offset, limit,
            )  # fmt: skip
            total = await conn.fetchval("SELECT count(*) FROM api_models")
        return [_model(r) for r in rows], int(total)

    async def get(self, model_id: str) -> ApiModel:
        """One API model, or NotFound."""
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM api_models WHERE id = $1", model_id
        )
        if row is None:
            raise not_found(model_id)
        return _model(row)

    async def create(
        self, model_id: str, fields: ApiModelFields, masked: str, at: datetime
    ) -> ApiModel:
        """A new API model; AlreadyExists when the id is taken."""
        try:
            row = await self._pool.fetchrow(
                "INSERT INTO api_models VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
                f" RETURNING {_COLUMNS}",
                model_id, fields.api_format, fields.base_url, fields.models, fields.prefix,
                masked, at,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(
                f"api model {model_id!r} already exists", code="api_model_exists", param="id"
            ) from None
        return _model(row)

    async def update(
        self, model_id: str, fields: ApiModelFields, masked: str | None, at: datetime
    ) -> ApiModel:
        """Replace an API model's settings (and its masked key when a new key was stored)."""
        row = await self._pool.fetchrow(
            f"""UPDATE api_models SET api_format = $2, base_url = $3, models = $4, prefix = $5,
                api_key_masked = COALESCE($6, api_key_masked), updated_at = $7
            WHERE id = $1 RETURNING {_COLUMNS}""",
            model_id, fields.api_format, fields.base_url, fields.models, fields.prefix,
            masked, at,
        )  # fmt: skip
        if row is None:
            raise not_found(model_id)
        return _model(row)

    async def delete(self, model_id: str) -> None:
        """Remove an API model (NotFound when absent)."""
        status = await self._pool.execute("DELETE FROM api_models WHERE id = $1", model_id)
        if status != "DELETE 1":
            raise not_found(model_id)


def _model(row: asyncpg.Record | None) -> ApiModel:
    assert row is not None, "RETURNING always yields the row"
    return ApiModel(
        id=row["id"],
        api_format=row["api_format"],
        base_url=row["base_url"],
        models=list(row["models"]),
        prefix=row["prefix"],
        api_key_masked=row["api_key_masked"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
