"""secret-svc SQL. Every write that changes a secret or a key version commits its audit row in
the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from bodhi_common.errors import InvalidArgument
from secret_svc.crypto import ScryptParams, Sealed
from secret_svc.domain import (
    AuditEntry,
    KeyStatus,
    KeyVersionInfo,
    SecretRecord,
    StoredSecret,
    VaultState,
    WrappedKey,
)

_RECORD = "namespace, name, key_version, size, created_at, updated_at"
_PUT = f"""
INSERT INTO secrets AS s
    (namespace, name, key_version, salt, nonce, ciphertext, size, created_at, updated_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $8 FROM vault WHERE current_version = $3
ON CONFLICT (namespace, name) DO UPDATE SET
    key_version = EXCLUDED.key_version, salt = EXCLUDED.salt, nonce = EXCLUDED.nonce,
    ciphertext = EXCLUDED.ciphertext, size = EXCLUDED.size, updated_at = EXCLUDED.updated_at
RETURNING {_RECORD}, (xmax = 0) AS created
"""
_AUDIT = """
INSERT INTO audit_log (at, caller, principal, operation, namespace, name_hmac, outcome)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""

Reseal = Callable[[StoredSecret], Sealed | None]
Cursor = tuple[str, str]


class SecretStore:
    """Queries on secret-svc's own database."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    async def vault_state(self) -> VaultState | None:
        """The vault row, or None before the first start."""
        row = await self._pool.fetchrow(
            "SELECT master_kind, scrypt::text, current_version, min_version FROM vault"
        )
        if row is None:
            return None
        scrypt = msgspec.json.decode(row["scrypt"], type=ScryptParams) if row["scrypt"] else None
        return VaultState(
            master_kind=row["master_kind"],
            scrypt=scrypt,
            current_version=row["current_version"],
            min_version=row["min_version"],
        )

    async def create_vault(self, state: VaultState, first: WrappedKey, at: datetime) -> bool:
        """Store a new vault and its first key version; False when another replica won."""
        async with self._pool.acquire() as conn, conn.transaction():
            created = await conn.fetchval(
                "INSERT INTO vault (master_kind, scrypt, current_version, min_version, created_at)"
                " VALUES ($1, $2::text::jsonb, 1, 1, $3) ON CONFLICT DO NOTHING RETURNING true",
                state.master_kind,
                msgspec.json.encode(state.scrypt).decode() if state.scrypt else None,
                at,
            )
            if created:
                await _insert_key(conn, first, at)
            return bool(created)

    async def wrapped_keys(self, min_version: int) -> list[WrappedKey]:
        """The wrapped KEKs of every version still decryptable."""
        rows = await self._pool.fetch(
            "SELECT version, nonce, wrapped_key FROM key_versions WHERE version >= $1",
            min_version,
        )
        return [WrappedKey(version=r[0], nonce=r[1], wrapped=r[2]) for r in rows]

    async def put(
        self, record: tuple[str, str, int], sealed: Sealed, size: int, audit: AuditEntry
    ) -> tuple[SecretRecord, bool] | None:
        """Insert or replace; None when `record`'s key version is no longer the current one."""
        namespace, name, version = record
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                _PUT, namespace, name, version, sealed.salt, sealed.nonce, sealed.ciphertext,
                size, audit.at,
            )  # fmt: skip
            if row is None:
                return None
            await _insert_audit(conn, [audit])
            return _record(row), bool(row["created"])

    async def get(self, namespace: str, name: str) -> StoredSecret | None:
        """A secret's row."""
        row = await self._pool.fetchrow(
            f"SELECT {_RECORD}, salt, nonce, ciphertext FROM secrets"
            " WHERE namespace = $1 AND name = $2",
            namespace,
            name,
        )
        return None if row is None else _stored(row)

    async def delete(self, namespace: str, name: str, audit: AuditEntry) -> bool:
        """Remove a secret; False when there was none."""
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "DELETE FROM secrets WHERE namespace = $1 AND name = $2", namespace, name
            )
            await _insert_audit(conn, [audit])
        return bool(status == "DELETE 1")

    async def list(
        self, namespace: str, prefix: str, limit: int, offset: int
    ) -> tuple[list[SecretRecord], int]:
        """One page of a namespace's secrets by name, and the total."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await self._pool.fetch(
            f"SELECT {_RECORD}, count(*) OVER () AS total FROM secrets"
            " WHERE namespace = $1 AND name LIKE $2 ORDER BY name LIMIT $3 OFFSET $4",
            namespace,
            pattern,
            limit,
            offset,
        )
        total = rows[0]["total"] if rows else await self._count(namespace, pattern)
        return [_record(r) for r in rows], total

    async def _count(self, namespace: str, pattern: str) -> int:
        count: int = await self._pool.fetchval(
            "SELECT count(*) FROM secrets WHERE namespace = $1 AND name LIKE $2",
            namespace,
            pattern,
        )
        return count

    async def rotate(self, make_key: Callable[[int], WrappedKey], audit: AuditEntry) -> int:
        """Add the next key version and make it current; returns it."""
        async with self._pool.acquire() as conn, conn.transaction():
            current = await conn.fetchval("SELECT current_version FROM vault FOR UPDATE")
            key = make_key(current + 1)
            await _insert_key(conn, key, audit.at)
            await conn.execute("UPDATE vault SET current_version = $1", key.version)
            await _insert_audit(conn, [audit])
        return key.version

    async def set_min_version(self, version: int, audit: AuditEntry) -> int:
        """Retire the versions below `version`; returns the records left under them."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT current_version, min_version FROM vault FOR UPDATE")
            low, high = row["min_version"], row["current_version"]  # type: ignore[index]
            if not low <= version <= high:
                raise InvalidArgument(
                    f"the minimum version must be between {low} and {high}",
                    code="invalid_min_version",
                    param="min_decryption_version",
                )
            await conn.execute("UPDATE vault SET min_version = $1", version)
            await _insert_audit(conn, [audit])
            stranded: int = await conn.fetchval(
                "SELECT count(*) FROM secrets WHERE key_version < $1", version
            )
        return stranded

    async def status(self) -> KeyStatus:
        """Every key version with the number of records under it."""
        state = await self.vault_state()
        assert state is not None, "the vault is created before the service serves"
        rows = await self._pool.fetch(
            "SELECT v.version, v.created_at, count(s.name) AS records FROM key_versions v"
            " LEFT JOIN secrets s ON s.key_version = v.version"
            " GROUP BY v.version ORDER BY v.version"
        )
        versions = [
            KeyVersionInfo(
                version=r["version"],
                created_at=r["created_at"],
                record_count=r["records"],
                current=r["version"] == state.current_version,
                decryptable=r["version"] >= state.min_version,
            )
            for r in rows
        ]
        return KeyStatus(
            current_version=state.current_version, min_version=state.min_version, versions=versions
        )

    async def rewrap_batch(
        self, bounds: tuple[int, int], after: Cursor, size: int, reseal: Reseal
    ) -> tuple[int, int, Cursor | None]:
        """Re-seal up to `size` records under versions in [min, target) past `after`, in one
        transaction; rows another replica holds are skipped. Returns (done, failed, last key)."""
        min_version, target = bounds
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT {_RECORD}, salt, nonce, ciphertext FROM secrets"
                " WHERE key_version >= $1 AND key_version < $2 AND (namespace, name) > ($3, $4)"
                " ORDER BY namespace, name LIMIT $5 FOR UPDATE SKIP LOCKED",
                min_version, target, after[0], after[1], size,
            )  # fmt: skip
            if not rows:
                return 0, 0, None
            updates = []
            for row in rows:
                sealed = reseal(_stored(row))
                if sealed is not None:
                    updates.append((row["namespace"], row["name"], target, *_columns(sealed)))
            await conn.executemany(
                "UPDATE secrets SET key_version = $3, salt = $4, nonce = $5, ciphertext = $6"
                " WHERE namespace = $1 AND name = $2",
                updates,
            )
        last = rows[-1]
        return len(updates), len(rows) - len(updates), (last["namespace"], last["name"])

    async def count_below(self, version: int) -> int:
        """Records under versions older than `version`."""
        count: int = await self._pool.fetchval(
            "SELECT count(*) FROM secrets WHERE key_version < $1", version
        )
        return count

    async def insert_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Write audit rows of operations that changed nothing (reads, refusals, failures)."""
        async with self._pool.acquire() as conn:
            await _insert_audit(conn, entries)

    async def prune_audit(self, before: datetime) -> int:
        """Delete audit rows older than `before`; returns how many."""
        status = await self._pool.execute("DELETE FROM audit_log WHERE at < $1", before)
        return int(status.split()[-1])


async def _insert_key(conn: Any, key: WrappedKey, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO key_versions (version, nonce, wrapped_key, created_at)"
        " VALUES ($1, $2, $3, $4)",
        key.version,
        key.nonce,
        key.wrapped,
        at,
    )


async def _insert_audit(conn: Any, entries: Sequence[AuditEntry]) -> None:
    await conn.executemany(
        _AUDIT,
        [
            (e.at, e.caller, e.principal, e.operation, e.namespace, e.name_hmac, e.outcome)
            for e in entries
        ],
    )


def _columns(sealed: Sealed) -> tuple[bytes, bytes, bytes]:
    return sealed.salt, sealed.nonce, sealed.ciphertext


def _record(row: asyncpg.Record) -> SecretRecord:
    return SecretRecord(
        namespace=row["namespace"],
        name=row["name"],
        key_version=row["key_version"],
        size=row["size"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _stored(row: asyncpg.Record) -> StoredSecret:
    sealed = Sealed(salt=row["salt"], nonce=row["nonce"], ciphertext=row["ciphertext"])
    return StoredSecret(record=_record(row), sealed=sealed)
