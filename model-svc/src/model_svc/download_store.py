"""model-svc SQL for downloads. Workers claim a pending download with a lease they renew while
working (FOR UPDATE SKIP LOCKED), so a download whose worker died is taken over once its lease
lapses, by this process after a restart or by another replica."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bodhi_common.errors import FailedPrecondition, NotFound
from model_svc.domain import Download

_DOWNLOAD = (
    "id, repo, filename, revision, alias, status, error, error_code, commit, total_bytes,"
    " downloaded_bytes, bytes_per_second, started_at, created_at, updated_at"
)


class DownloadStore:
    """Queries on the downloads table."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    async def pull(
        self, repo: str, filename: str, revision: str, alias: str | None, at: datetime
    ) -> tuple[Download, bool]:
        """A new pending download, or the one already pending for this file; (it, created)."""
        for _ in range(3):  # the pending one may finish between the INSERT and the SELECT
            row = await self._pool.fetchrow(
                f"INSERT INTO downloads (id, repo, filename, revision, alias, status, created_at,"
                f" updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)"
                f" ON CONFLICT (repo, filename, revision) WHERE status = 'pending' DO NOTHING"
                f" RETURNING {_DOWNLOAD}",
                uuid.uuid4(), repo, filename, revision, alias, at,
            )  # fmt: skip
            if row is not None:
                return _download(row), True
            row = await self._pool.fetchrow(
                f"SELECT {_DOWNLOAD} FROM downloads WHERE repo = $1 AND filename = $2"
                f" AND revision = $3 AND status = 'pending'",
                repo, filename, revision,
            )  # fmt: skip
            if row is not None:
                return _download(row), False
        raise FailedPrecondition("the download changed while starting; try again", code="retry")

    async def get(self, download_id: str) -> Download:
        """One download, or NotFound."""
        row = await self._pool.fetchrow(
            f"SELECT {_DOWNLOAD} FROM downloads WHERE id = $1", _uuid(download_id)
        )
        return _download(row) if row is not None else _missing()

    async def list(self, limit: int, offset: int) -> tuple[list[Download], int]:
        """Newest first, and the total."""
        rows = await self._pool.fetch(
            f"SELECT {_DOWNLOAD}, count(*) OVER () AS total FROM downloads"
            " ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
            limit, offset,
        )  # fmt: skip
        if rows:
            return [_download(r) for r in rows], int(rows[0]["total"])
        return [], int(await self._pool.fetchval("SELECT count(*) FROM downloads"))

    async def claim(self, worker: str, lease: float, at: datetime) -> Download | None:
        """Take the oldest pending download nobody holds (or whose holder went silent)."""
        row = await self._pool.fetchrow(
            f"""UPDATE downloads SET worker = $1, lease_until = $2, updated_at = $3
            WHERE id = (SELECT id FROM downloads WHERE status = 'pending'
                        AND (lease_until IS NULL OR lease_until < $3)
                        ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING {_DOWNLOAD}""",
            worker, at + timedelta(seconds=lease), at,
        )  # fmt: skip
        return None if row is None else _download(row)

    async def progress(
        self, download_id: str, worker: str, values: dict[str, Any], lease: float, at: datetime
    ) -> Download | None:
        """Record progress and renew the lease; the row as written, or None when the download
        is no longer ours (cancelled, or taken over after our lease lapsed)."""
        names = list(values)
        sets = ", ".join(f"{name} = ${i + 5}" for i, name in enumerate(names))
        row = await self._pool.fetchrow(
            f"UPDATE downloads SET {sets}, lease_until = $3, updated_at = $4"
            f" WHERE id = $1 AND worker = $2 AND status = 'pending' RETURNING {_DOWNLOAD}",
            _uuid(download_id), worker, at + timedelta(seconds=lease), at,
            *(values[n] for n in names),
        )  # fmt: skip
        return _download(row) if row is not None else None

    async def finish(
        self, download_id: str, worker: str, status: str, values: dict[str, Any], at: datetime
    ) -> Download | None:
        """Close a download we hold: completed or error (with its message and code); the row,
        or None when it was no longer ours."""
        return await self.progress(download_id, worker, values | {"status": status}, 0, at)

    async def cancel(self, download_id: str, at: datetime) -> Download:
        """Cancel a pending download (its worker notices at its next progress write)."""
        row = await self._pool.fetchrow(
            f"UPDATE downloads SET status = 'cancelled', updated_at = $2, lease_until = NULL"
            f" WHERE id = $1 AND status = 'pending' RETURNING {_DOWNLOAD}",
            _uuid(download_id), at,
        )  # fmt: skip
        if row is None:
            current = await self.get(download_id)
            raise FailedPrecondition(
                f"the download is already {current.status}", code="download_not_pending"
            )
        return _download(row)

    async def release(self, worker: str) -> None:
        """Give up our leases (a clean stop): another worker may resume at once."""
        await self._pool.execute(
            "UPDATE downloads SET lease_until = NULL WHERE worker = $1 AND status = 'pending'",
            worker,
        )


def _uuid(download_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(download_id)
    except ValueError:
        _missing()
        raise


def _missing() -> Download:
    raise NotFound("download not found", code="download_not_found", param="id")


def _download(row: asyncpg.Record) -> Download:
    return Download(
        id=str(row["id"]),
        repo=row["repo"],
        filename=row["filename"],
        revision=row["revision"],
        alias=row["alias"],
        status=row["status"],
        error=row["error"],
        error_code=row["error_code"],
        commit=row["commit"],
        total_bytes=row["total_bytes"],
        downloaded_bytes=row["downloaded_bytes"],
        bytes_per_second=row["bytes_per_second"],
        started_at=row["started_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
