"""auth-svc SQL for access requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from auth_svc.domain import AccessRequest, RequestStatus, Role
from bodhi_common.errors import AlreadyExists, FailedPrecondition, NotFound

_REQUEST = "id, user_id, username, status, reviewer, created_at, updated_at"


class AccessStore:
    """Queries on the access_requests table."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    async def create(self, user_id: str, username: str, at: datetime) -> AccessRequest:
        """A new pending request; AlreadyExists when one is pending (a unique partial index
        makes two concurrent requests one)."""
        try:
            row = await self._pool.fetchrow(
                f"INSERT INTO access_requests (user_id, username, status, created_at, updated_at)"
                f" VALUES ($1, $2, 'pending', $3, $3) RETURNING {_REQUEST}",
                user_id, username, at,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(
                "an access request is already pending", code="access_request_pending"
            ) from None
        return _request(row)

    async def latest(self, user_id: str) -> AccessRequest:
        """A person's most recent request, whatever its status."""
        row = await self._pool.fetchrow(
            f"SELECT {_REQUEST} FROM access_requests WHERE user_id = $1"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            user_id,
        )
        if row is None:
            raise NotFound("no access request", code="access_request_not_found")
        return _request(row)

    async def list(
        self, status: RequestStatus | None, limit: int, offset: int
    ) -> tuple[list[AccessRequest], int]:
        """Pending requests oldest first, or all requests newest first; and the total."""
        order = "created_at, id" if status == RequestStatus.PENDING else "created_at DESC, id DESC"
        rows = await self._pool.fetch(
            f"SELECT {_REQUEST}, count(*) OVER () AS total FROM access_requests"
            f" WHERE $1::text IS NULL OR status = $1 ORDER BY {order} LIMIT $2 OFFSET $3",
            status, limit, offset,
        )  # fmt: skip
        if rows:
            return [_request(r) for r in rows], int(rows[0]["total"])
        total = await self._pool.fetchval(
            "SELECT count(*) FROM access_requests WHERE $1::text IS NULL OR status = $1", status
        )
        return [], int(total)

    async def decide(
        self, request_id: int, decision: RequestStatus, reviewer: str, role: Role | None,
        at: datetime,
    ) -> AccessRequest:  # fmt: skip
        """Approve (granting `role` in the same transaction) or reject a pending request."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {_REQUEST} FROM access_requests WHERE id = $1 FOR UPDATE", request_id
            )
            if row is None:
                raise NotFound("access request not found", code="access_request_not_found")
            if row["status"] != RequestStatus.PENDING:
                raise FailedPrecondition(
                    f"the access request is already {row['status']}",
                    code="access_request_not_pending",
                )
            if role is not None:
                # A request is for someone without a role; if they got one since (e.g. by a role
                # change), approving would overwrite it without the role-change rules.
                current = await conn.fetchval(
                    "SELECT role FROM users WHERE user_id = $1 FOR UPDATE", row["user_id"]
                )
                if current is not None:
                    raise FailedPrecondition(
                        "this person already has a role; change it under users instead",
                        code="already_has_access",
                    )
                await conn.execute(
                    "UPDATE users SET role = $2, updated_at = $3 WHERE user_id = $1",
                    row["user_id"], role.wire, at,
                )  # fmt: skip
            row = await conn.fetchrow(
                f"UPDATE access_requests SET status = $2, reviewer = $3, updated_at = $4"
                f" WHERE id = $1 RETURNING {_REQUEST}",
                request_id, decision, reviewer, at,
            )  # fmt: skip
        return _request(row)


def _request(row: asyncpg.Record | None) -> AccessRequest:
    assert row is not None, "RETURNING always yields the row"
    return AccessRequest(
        id=row["id"],
        user_id=row["user_id"],
        username=row["username"],
        status=RequestStatus(row["status"]),
        reviewer=row["reviewer"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
