"""Forward-only migrations against a real PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bodhi_common.errors import StartupError
from bodhi_common.migrations import migrate


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool[Any]]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=4) as pool:
        yield pool


def write(directory: Path, name: str, sql: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(sql)


async def test_files_apply_in_order_once(pool: asyncpg.Pool[Any], tmp_path: Path) -> None:
    write(tmp_path, "0001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);")
    write(tmp_path, "0002_more.sql", "ALTER TABLE items ADD COLUMN name text;")
    assert await migrate(pool, [("svc", tmp_path)]) == ["svc/0001_items", "svc/0002_more"]
    assert await migrate(pool, [("svc", tmp_path)]) == []
    await pool.execute("INSERT INTO items (id, name) VALUES (1, 'a')")


async def test_scopes_number_their_versions_independently(
    pool: asyncpg.Pool[Any], tmp_path: Path
) -> None:
    write(tmp_path / "common", "0001_a.sql", "CREATE TABLE a (id int);")
    write(tmp_path / "svc", "0001_b.sql", "CREATE TABLE b (id int);")
    scopes = [("common", tmp_path / "common"), ("svc", tmp_path / "svc")]
    assert await migrate(pool, scopes) == ["common/0001_a", "svc/0001_b"]


async def test_a_failing_migration_leaves_nothing_half_applied(
    pool: asyncpg.Pool[Any], tmp_path: Path
) -> None:
    write(tmp_path, "0001_ok.sql", "CREATE TABLE ok (id int);")
    write(tmp_path, "0002_bad.sql", "CREATE TABLE half (id int); SELECT * FROM missing_table;")
    with pytest.raises(StartupError, match="0002_bad failed"):
        await migrate(pool, [("svc", tmp_path)])
    assert await pool.fetchval("SELECT to_regclass('half')") is None
    assert await pool.fetchval("SELECT count(*) FROM schema_migrations") == 1


async def test_an_applied_file_that_was_edited_stops_the_start(
    pool: asyncpg.Pool[Any], tmp_path: Path
) -> None:
    write(tmp_path, "0001_items.sql", "CREATE TABLE items (id int);")
    await migrate(pool, [("svc", tmp_path)])
    write(tmp_path, "0001_items.sql", "CREATE TABLE items (id bigint);")
    with pytest.raises(StartupError, match="was changed after it was applied"):
        await migrate(pool, [("svc", tmp_path)])


async def test_a_misnamed_file_is_refused(pool: asyncpg.Pool[Any], tmp_path: Path) -> None:
    write(tmp_path, "items.sql", "CREATE TABLE items (id int);")
    with pytest.raises(StartupError, match=r"not named NNNN_name\.sql"):
        await migrate(pool, [("svc", tmp_path)])


async def test_replicas_starting_together_apply_each_file_once(
    database_url: str, tmp_path: Path
) -> None:
    # Without the advisory lock the second CREATE TABLE (or the INSERT) would fail.
    write(tmp_path, "0001_slow.sql", "SELECT pg_sleep(0.3); CREATE TABLE once (id int);")
    pools = [await asyncpg.create_pool(database_url, min_size=1, max_size=1) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(p, [("svc", tmp_path)]) for p in pools))
        assert sorted(len(r) for r in results) == [0, 0, 1]
    finally:
        for p in pools:
            await p.close()
