"""Forward-only SQL migrations: `NNNN_name.sql` files applied in order, one transaction each.

Migrations come in scopes: `common` (tables every service has, e.g. `settings`) and the
service's own; versions are numbered per scope.

A PostgreSQL advisory lock serialises replicas that start together; `schema_migrations` records
each applied file with a checksum, and an applied file that was edited afterwards stops the
start-up, because forward-only means a released migration never changes.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from bodhi_common.errors import StartupError

log = logging.getLogger(__name__)

_FILE = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql")
# An arbitrary constant: every service uses its own database, so one key serves them all.
_LOCK_KEY = 0x0B0D_1A11

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    scope      text NOT NULL,
    version    text NOT NULL,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, version)
)
"""


class Migration(msgspec.Struct, frozen=True, kw_only=True):
    """One migration file."""

    scope: str
    version: str
    name: str
    sql: str
    checksum: str


def discover(scope: str, directory: Path) -> list[Migration]:
    """The migrations in `directory`, ordered by version; a misnamed .sql file is an error."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.fullmatch(path.name)
        if match is None:
            raise StartupError(f"migration file {path.name} is not named NNNN_name.sql")
        sql = path.read_text()
        digest = hashlib.sha256(sql.encode()).hexdigest()
        found.append(
            Migration(
                scope=scope, version=match["version"], name=match["name"], sql=sql, checksum=digest
            )
        )
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StartupError(f"two migrations in {directory} share a version number")
    return found


async def migrate(pool: asyncpg.Pool[Any], scopes: Sequence[tuple[str, Path]]) -> list[str]:
    """Apply every pending migration of each (scope, directory) in order; returns the labels
    (`scope/NNNN_name`) applied now."""
    migrations = [m for scope, directory in scopes for m in discover(scope, directory)]
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(_CREATE_TABLE)
            rows = await conn.fetch("SELECT scope, version, checksum FROM schema_migrations")
            applied = {(row["scope"], row["version"]): row["checksum"] for row in rows}
            _check_unchanged(migrations, applied)
            done = []
            for migration in (m for m in migrations if (m.scope, m.version) not in applied):
                await _apply(conn, migration)
                done.append(_label(migration))
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


def _label(migration: Migration) -> str:
    return f"{migration.scope}/{migration.version}_{migration.name}"


def _check_unchanged(migrations: list[Migration], applied: dict[tuple[str, str], str]) -> None:
    for migration in migrations:
        checksum = applied.get((migration.scope, migration.version))
        if checksum is not None and checksum != migration.checksum:
            raise StartupError(
                f"migration {_label(migration)}.sql was changed after it was applied; "
                "add a new migration instead"
            )


async def _apply(conn: asyncpg.pool.PoolConnectionProxy[Any], migration: Migration) -> None:
    label = _label(migration)
    async with conn.transaction():
        try:
            await conn.execute(migration.sql)
        except asyncpg.PostgresError as exc:
            raise StartupError(f"migration {label} failed: {exc}") from None
        await conn.execute(
            "INSERT INTO schema_migrations (scope, version, name, checksum)"
            " VALUES ($1, $2, $3, $4)",
            migration.scope,
            migration.version,
            migration.name,
            migration.checksum,
        )
    log.info("applied migration", extra={"migration": label})
