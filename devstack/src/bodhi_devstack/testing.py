"""pytest plugin `bodhi` (registered by entry point): PostgreSQL and Redis for every member's tests.

Fixtures:
- `pg_server` (session): admin URL of a server that may create databases.
- `redis_server` (session): URL of a Redis server.
- `database_url`: a fresh empty database `test_<hex>` for one test, dropped WITH FORCE after.
- `redis_url`: a logical Redis database claimed by this session, so that concurrent runs on a
  shared server never meet, and emptied before and after each test; tests in one process run
  one at a time, so each starts empty and may use any key names.
- `bodhi_servers` (session): the discovery itself, e.g. `bodhi_servers.postgres().source`.

Servers are found (or started) on the first use of a fixture, never at import or collection,
and this module imports no driver until then. Set BODHI_TEST_DATABASE_URL (a server admin URL)
and BODHI_TEST_REDIS_URL to choose the servers; otherwise see `bodhi_devstack.infra`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from bodhi_devstack.proc import port_open

if TYPE_CHECKING:
    from bodhi_devstack.infra import SessionServers
    from bodhi_devstack.redis_server import RedisDatabase

POSTGRES_ENV = "BODHI_TEST_DATABASE_URL"
REDIS_ENV = "BODHI_TEST_REDIS_URL"
_SERVERS = pytest.StashKey["SessionServers"]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of tests that start embedded servers themselves."""
    config.addinivalue_line(
        "markers", "embedded: starts embedded PostgreSQL/Redis from the wheels (about a second)"
    )


def pytest_report_header(config: pytest.Config) -> str:
    """Which servers the fixtures will likely use: a cheap guess; the real choice is lazy."""
    postgres = _guess(POSTGRES_ENV, 5432)
    redis = _guess(REDIS_ENV, 6379)
    return f"bodhi servers: postgres={postgres}, redis={redis} (resolved on first use)"


def _guess(variable: str, local_port: int) -> str:
    if os.environ.get(variable):
        return f"env (${variable})"
    if port_open("127.0.0.1", local_port):
        return f"local 127.0.0.1:{local_port}"
    return "container or embedded"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Which servers the fixtures did use (URLs with passwords masked), if any test asked."""
    servers = config.stash.get(_SERVERS, None)
    if servers is None:
        return
    used = [f"postgres: {servers.found_postgres}"] if servers.found_postgres else []
    used += [f"redis: {servers.found_redis}"] if servers.found_redis else []
    if used:
        terminalreporter.write_line(f"bodhi servers used: {'; '.join(used)}")


@pytest.fixture(scope="session")
def bodhi_servers(pytestconfig: pytest.Config) -> Iterator[SessionServers]:
    """Discovery of the session's servers; stops what it started at the end."""
    from bodhi_devstack.infra import SessionServers

    postgres_url, redis_url = os.environ.get(POSTGRES_ENV), os.environ.get(REDIS_ENV)
    with SessionServers(postgres_url=postgres_url, redis_url=redis_url) as servers:
        pytestconfig.stash[_SERVERS] = servers
        yield servers


@pytest.fixture(scope="session")
def pg_server(bodhi_servers: SessionServers) -> str:
    """Admin URL of the session's PostgreSQL server."""
    from bodhi_devstack.infra import InfraError

    try:
        return bodhi_servers.postgres().admin_url
    except InfraError as exc:
        pytest.fail(f"${POSTGRES_ENV}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def redis_server(bodhi_servers: SessionServers) -> str:
    """URL of the session's Redis server."""
    from bodhi_devstack.infra import InfraError

    try:
        return bodhi_servers.redis().url
    except InfraError as exc:
        pytest.fail(f"${REDIS_ENV}: {exc}", pytrace=False)


@pytest.fixture
def database_url(pg_server: str) -> Iterator[str]:
    """URL of a new, empty database that is dropped after the test."""
    from bodhi_devstack.infra import temporary_database

    with temporary_database(pg_server) as url:
        yield url


@pytest.fixture(scope="session")
def bodhi_redis_database(redis_server: str) -> Iterator[RedisDatabase]:
    """The logical Redis database this session claimed; given back at the end."""
    from bodhi_devstack.redis_server import RedisDatabase

    database = RedisDatabase(redis_server).claim()
    try:
        yield database
    finally:
        database.flush()
        database.release()


@pytest.fixture
def redis_url(bodhi_redis_database: RedisDatabase) -> Iterator[str]:
    """URL of an empty Redis database for this test (flushed before and after)."""
    bodhi_redis_database.flush()
    yield bodhi_redis_database.url
    bodhi_redis_database.flush()
