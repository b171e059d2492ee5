"""Test servers: discovery, per-test databases, the embedded PostgreSQL/Redis and the plugin."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from bodhi_devstack.infra import (
    LOCAL_POSTGRES_URL,
    LOCAL_REDIS_URL,
    InfraError,
    SessionServers,
    postgres_problem,
    redis_problem,
    run_sync,
    temporary_database,
)
from bodhi_devstack.postgres import (
    SYSTEM_USER,
    EmbeddedPostgres,
    create_database,
    database_url,
    drop_database,
    ensure_databases,
)
from bodhi_devstack.proc import free_port, port_open
from bodhi_devstack.redis_server import RedisDatabase, redis_url, start_redis


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A private dir under the system temp dir, removed afterwards.

    Not tmp_path: pytest resets its base dir to mode 700 whenever a run starts, which would
    lock the unprivileged postgres user out of a cluster another run is still using.
    """
    path = Path(tempfile.mkdtemp(prefix="bodhi-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def closed_port_url(scheme: str, *, password: str | None = None) -> str:
    secret = f":{password}" if password else ""
    return f"{scheme}://postgres{secret}@127.0.0.1:{free_port()}/postgres"


async def database_exists(admin_url: str, name: str) -> bool:
    conn = await asyncpg.connect(admin_url)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


# --- discovery ---------------------------------------------------------------------------


def test_discovery_finds_the_local_servers() -> None:
    if not (port_open("127.0.0.1", 5432) and port_open("127.0.0.1", 6379)):
        pytest.skip("no local PostgreSQL and Redis on this machine")
    with SessionServers() as servers:
        pg, rd = servers.postgres(), servers.redis()
    print(f"postgres: {pg}; redis: {rd}")
    assert (pg.source, pg.admin_url) == ("local", LOCAL_POSTGRES_URL)
    assert (rd.source, rd.url) == ("local", LOCAL_REDIS_URL)


def test_configured_urls_win_over_everything_else(pg_server: str, redis_server: str) -> None:
    with SessionServers(postgres_url=pg_server, redis_url=redis_server) as servers:
        assert servers.postgres().source == "env"
        assert servers.postgres().admin_url == pg_server
        assert servers.redis().source == "env"


def test_a_configured_server_that_does_not_answer_is_refused_not_skipped() -> None:
    unreachable = closed_port_url("postgresql", password="hunter2")
    with SessionServers(postgres_url=unreachable) as servers, pytest.raises(InfraError) as failure:
        servers.postgres()
    assert "not usable" in str(failure.value)
    assert "hunter2" not in str(failure.value)
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    with (
        SessionServers(redis_url=unreachable) as servers,
        pytest.raises(InfraError, match="usable"),
    ):
        servers.redis()


@pytest.mark.embedded
def test_without_any_server_the_embedded_ones_start_and_stop() -> None:
    servers = SessionServers(
        local_postgres_url=closed_port_url("postgresql"),
        local_redis_url=f"redis://127.0.0.1:{free_port()}/0",
    )
    with servers:
        began = time.monotonic()
        pg, rd = servers.postgres(), servers.redis()
        print(f"postgres: {pg}; redis: {rd}; started in {time.monotonic() - began:.2f}s")
        assert {pg.source, rd.source} <= {"container", "embedded"}
        assert run_sync(database_exists(pg.admin_url, "postgres"))
        assert redis_problem(rd.url) is None
    assert run_sync(postgres_problem(pg.admin_url)) is not None  # stopped with the session
    assert redis_problem(rd.url) is not None


# --- per-test PostgreSQL databases ----------------------------------------------------------


async def test_database_url_is_a_fresh_empty_database(database_url: str, pg_server: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        name = await conn.fetchval("SELECT current_database()")
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        await conn.execute("CREATE TABLE t (id int)")
    finally:
        await conn.close()
    assert name.startswith("test_")
    assert tables == 0
    assert database_url != pg_server


def test_temporary_database_is_dropped_even_with_a_session_open(pg_server: str) -> None:
    loop = asyncio.new_event_loop()
    try:
        with temporary_database(pg_server) as url:
            name = url.rsplit("/", 1)[1]
            lingering = loop.run_until_complete(asyncpg.connect(url))
        assert not run_sync(database_exists(pg_server, name))
        assert lingering.is_closed() or loop.run_until_complete(_is_dead(lingering))
    finally:
        loop.close()


async def _is_dead(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return True
    return False


async def test_concurrent_ensure_databases_all_succeed(pg_server: str) -> None:
    names = [f"test_{uuid.uuid4().hex}_{suffix}" for suffix in ("a", "b", "c")]
    try:
        callers = [ensure_databases(pg_server, names) for _ in range(4)]
        assert await asyncio.gather(*callers, return_exceptions=True) == [None] * 4
        assert all([await database_exists(pg_server, name) for name in names])
        await ensure_databases(pg_server, names)  # and again, when they all exist
    finally:
        for name in names:
            await drop_database(pg_server, name)


async def test_database_names_are_quoted(pg_server: str) -> None:
    name = f'test_{uuid.uuid4().hex[:8]} We"ird; DROP'
    await create_database(pg_server, name)
    try:
        conn = await asyncpg.connect(database_url(pg_server, name))
        assert await conn.fetchval("SELECT current_database()") == name
        await conn.close()
    finally:
        await drop_database(pg_server, name)
    assert not await database_exists(pg_server, name)


def test_database_url_replaces_only_the_database() -> None:
    admin = "postgresql://u:p@h:5432/postgres?sslmode=disable"
    assert database_url(admin, "bodhi_auth") == "postgresql://u:p@h:5432/bodhi_auth?sslmode=disable"


# --- per-test Redis databases ---------------------------------------------------------------


def test_redis_url_is_an_empty_database_of_its_own(redis_url: str, redis_server: str) -> None:
    assert redis_url != redis_server
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() == 0
        client.set("left-behind", "1")  # the next test must not see it


def test_flush_empties_the_claimed_database_and_release_frees_it(redis_server: str) -> None:
    database = RedisDatabase(redis_server).claim()
    claim_key = RedisDatabase.CLAIM_PREFIX + database.url.rsplit("/", 1)[1]
    with redis.Redis.from_url(database.url) as client:
        client.set("k", "v")
        database.flush()
        assert client.dbsize() == 0
    with redis.Redis.from_url(redis_server) as client:
        assert client.exists(claim_key)
        database.release()
        assert not client.exists(claim_key)


def test_concurrent_claims_get_different_databases(redis_server: str) -> None:
    first, second = RedisDatabase(redis_server).claim(), RedisDatabase(redis_server).claim()
    try:
        assert first.url != second.url
    finally:
        first.release()
        second.release()


# --- embedded PostgreSQL ----------------------------------------------------------------------


@pytest.mark.embedded
def test_embedded_postgres_keeps_data_across_restarts(scratch: Path) -> None:
    server = EmbeddedPostgres(scratch / "pg", free_port(), sys.stdout)
    try:
        began = time.monotonic()
        url = server.start()
        print(f"init+start {time.monotonic() - began:.2f}s")
        run_sync(_run(url, "CREATE TABLE kept (v text)", "INSERT INTO kept VALUES ('yes')"))
        pid = _postmaster_pid(server)
        assert server.start() == url  # a second start while running is harmless
        assert _postmaster_pid(server) == pid
        server.stop()
        began = time.monotonic()
        server.start()
        print(f"restart {time.monotonic() - began:.2f}s")
        assert run_sync(_fetch(url, "SELECT v FROM kept")) == "yes"
    finally:
        server.stop()
    assert not port_open("127.0.0.1", server.port)


@pytest.mark.embedded
def test_embedded_postgres_recovers_from_a_crash_and_a_stale_pid_file(scratch: Path) -> None:
    server = EmbeddedPostgres(scratch / "pg", free_port(), sys.stdout, ephemeral=True)
    server.start()
    try:
        pid = _postmaster_pid(server)
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)  # crashed, not crashing: a dying postmaster can still look alive
        server.start()  # the pid file of the killed server is left behind
        run_sync(_run(server.admin_url, "SELECT 1"))
        server.stop()
        # After a crash the old pid may belong to another process of the cluster's user.
        with _process_of_cluster_user() as pid:
            _write_pid_file(server, pid)
            server.start()
        run_sync(_run(server.admin_url, "SELECT 1"))
    finally:
        server.stop()


def _wait_gone(pid: int, within: float = 10.0) -> None:
    """Until `pid` has exited (a zombie counts as gone: it holds no socket and no memory)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} did not exit within {within} s of SIGKILL")


def _postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.data_dir / "postmaster.pid").read_text().split()[0])


def _write_pid_file(server: EmbeddedPostgres, pid: int) -> None:
    lines = [str(pid), str(server.data_dir), "0", str(server.port), "", "127.0.0.1", "0 0", "ready"]
    pid_file = server.data_dir / "postmaster.pid"
    pid_file.write_text("\n".join(lines) + "\n")
    if os.geteuid() == 0:
        shutil.chown(pid_file, SYSTEM_USER, SYSTEM_USER)


@contextlib.contextmanager
def _process_of_cluster_user() -> Iterator[int]:
    proc = subprocess.Popen(["sleep", "60"], user=SYSTEM_USER if os.geteuid() == 0 else None)
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


async def _run(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _fetch(url: str, query: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


# --- embedded Redis -------------------------------------------------------------------------


@pytest.mark.embedded
def test_embedded_redis_with_persistence_keeps_keys_across_a_restart(scratch: Path) -> None:
    port = free_port()
    began = time.monotonic()
    child = start_redis(scratch / "redis", port, persist=True, sink=sys.stdout)
    print(f"redis start {time.monotonic() - began:.3f}s")
    try:
        with redis.Redis.from_url(redis_url(port)) as client:
            assert client.ping()
            client.set("session", "kept")
        child.stop()
        child = start_redis(scratch / "redis", port, persist=True, sink=sys.stdout)
        with redis.Redis.from_url(redis_url(port)) as client:
            assert client.get("session") == b"kept"
    finally:
        child.stop()


@pytest.mark.embedded
def test_embedded_redis_without_persistence_writes_nothing(scratch: Path) -> None:
    port = free_port()
    child = start_redis(scratch / "redis", port, persist=False, sink=sys.stdout)
    try:
        with redis.Redis.from_url(redis_url(port)) as client:
            client.set("session", "gone")
    finally:
        child.stop()
    assert list((scratch / "redis").iterdir()) == []


# --- the plugin, as another member's test run sees it ---------------------------------------


def test_plugin_reports_servers_and_stays_lazy(scratch: Path) -> None:
    (scratch / "test_member.py").write_text(
        textwrap.dedent(
            """
            import sys

            def test_collection_imported_no_driver():
                assert "asyncpg" not in sys.modules and "redis" not in sys.modules

            def test_uses_a_database(database_url):
                assert "/test_" in database_url
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_member.py"],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bodhi servers: postgres=" in result.stdout
    assert "bodhi servers used: postgres: " in result.stdout
