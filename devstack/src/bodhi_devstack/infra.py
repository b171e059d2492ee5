"""Find the PostgreSQL and Redis servers that tests use, starting one only when none is around.

Order for each server on its own: a URL the caller configured (from the environment) → the
local server on its usual port → a testcontainers container when a Docker engine answers →
the embedded wheels.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO, TypeVar

import asyncpg

from bodhi_common.config import mask_url
from bodhi_devstack import postgres
from bodhi_devstack.postgres import EmbeddedPostgres
from bodhi_devstack.proc import free_port
from bodhi_devstack.redis_server import quick_client, redis_url, start_redis

Source = Literal["env", "local", "container", "embedded"]
T = TypeVar("T")

LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_IMAGE = "postgres:17-alpine"
REDIS_IMAGE = "redis:7-alpine"


class InfraError(RuntimeError):
    """A server the caller configured is not usable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PostgresServer:
    """A PostgreSQL server the tests may create databases on."""

    admin_url: str  # a superuser (or CREATEDB role) on a database that always exists
    source: Source

    def __str__(self) -> str:
        return f"{self.source} {mask_url(self.admin_url)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisServer:
    """A Redis server the tests may use."""

    url: str
    source: Source

    def __str__(self) -> str:
        return f"{self.source} {mask_url(self.url)}"


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a private event loop, leaving any loop of the caller's thread alone."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


async def postgres_problem(admin_url: str) -> str | None:
    """Why `admin_url` cannot host test databases, or None when it can."""
    try:
        conn = await asyncpg.connect(admin_url, timeout=2.0)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    try:
        allowed = await conn.fetchval(
            "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
        )
    finally:
        await conn.close()
    return None if allowed else "its role may not create databases"


def redis_problem(url: str, timeout: float = 1.0) -> str | None:
    """Why `url` is not a usable Redis, or None when it answers PING."""
    client = quick_client(url, timeout)
    try:
        client.ping()
    except Exception as exc:  # any failure means "not usable", and the message says why
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


class SessionServers:
    """The servers of one test session: found on first use; whatever it started, it stops."""

    def __init__(
        self,
        *,
        postgres_url: str | None = None,
        redis_url: str | None = None,
        local_postgres_url: str = LOCAL_POSTGRES_URL,
        local_redis_url: str = LOCAL_REDIS_URL,
    ) -> None:
        self._postgres_url = (
            postgres_url  # configured by the caller: used or refused, never skipped
        )
        self._redis_url = redis_url
        self._local_postgres_url = local_postgres_url
        self._local_redis_url = local_redis_url
        self._stack = contextlib.ExitStack()
        self._workdir: Path | None = None
        self._log: TextIO | None = None
        self._docker: bool | None = None
        self.found_postgres: PostgresServer | None = None
        self.found_redis: RedisServer | None = None

    def __enter__(self) -> SessionServers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every server this object started and remove their files."""
        self._stack.close()

    def postgres(self) -> PostgresServer:
        """The PostgreSQL server for this session (discovered once)."""
        if self.found_postgres is None:
            self.found_postgres = self._find_postgres()
        return self.found_postgres

    def redis(self) -> RedisServer:
        """The Redis server for this session (discovered once)."""
        if self.found_redis is None:
            self.found_redis = self._find_redis()
        return self.found_redis

    def _find_postgres(self) -> PostgresServer:
        if url := self._postgres_url:
            if problem := run_sync(postgres_problem(url)):
                raise InfraError(f"PostgreSQL at {mask_url(url)} is not usable: {problem}")
            return PostgresServer(admin_url=url, source="env")
        if run_sync(postgres_problem(self._local_postgres_url)) is None:
            return PostgresServer(admin_url=self._local_postgres_url, source="local")
        if self._docker_answers() and (url := self._postgres_container()):
            return PostgresServer(admin_url=url, source="container")
        return PostgresServer(admin_url=self._embedded_postgres(), source="embedded")

    def _find_redis(self) -> RedisServer:
        if url := self._redis_url:
            if problem := redis_problem(url):
                raise InfraError(f"Redis at {mask_url(url)} is not usable: {problem}")
            return RedisServer(url=url, source="env")
        if redis_problem(self._local_redis_url) is None:
            return RedisServer(url=self._local_redis_url, source="local")
        if self._docker_answers() and (url := self._redis_container()):
            return RedisServer(url=url, source="container")
        return RedisServer(url=self._embedded_redis(), source="embedded")

    def _docker_answers(self) -> bool:
        if self._docker is None:
            self._docker = _docker_engine_answers()
        return self._docker

    def _postgres_container(self) -> str | None:
        try:
            from testcontainers.postgres import PostgresContainer
        except ImportError:
            return None
        password = secrets.token_hex(12)
        container = PostgresContainer(
            POSTGRES_IMAGE, username="postgres", password=password, dbname="postgres"
        )
        container.start()
        self._stack.callback(container.stop)
        host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
        return f"postgresql://postgres:{password}@{host}:{port}/postgres"

    def _redis_container(self) -> str | None:
        try:
            from testcontainers.redis import RedisContainer
        except ImportError:
            return None
        container = RedisContainer(REDIS_IMAGE)
        container.start()
        self._stack.callback(container.stop)
        host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
        return f"redis://{host}:{port}/0"

    def _embedded_postgres(self) -> str:
        server = EmbeddedPostgres(
            self._scratch() / "postgres", free_port(), self._server_log(), ephemeral=True
        )
        self._stack.callback(server.stop)
        return server.start()

    def _embedded_redis(self) -> str:
        port = free_port()
        child = start_redis(self._scratch() / "redis", port, persist=False, sink=self._server_log())
        self._stack.callback(child.stop)
        return redis_url(port)

    def _scratch(self) -> Path:
        """A private directory under the system temp dir, removed after the servers stop."""
        if self._workdir is None:
            # Not pytest's tmp_path: pytest resets its base to mode 700 on every run, which
            # would lock the unprivileged postgres user out of a cluster still in use.
            self._workdir = Path(tempfile.mkdtemp(prefix="bodhi-test-servers-"))
            self._stack.callback(shutil.rmtree, self._workdir, ignore_errors=True)
        return self._workdir

    def _server_log(self) -> TextIO:
        if self._log is None:
            self._log = self._stack.enter_context((self._scratch() / "servers.log").open("a"))
        return self._log


def _docker_engine_answers() -> bool:
    """True when a Docker engine answers a ping within 2 s (never raises)."""
    try:
        import docker
    except ImportError:
        return False
    try:
        docker.from_env(timeout=2).ping()
    except Exception:  # no client config, no socket, no engine: all mean "no"
        return False
    return True


@contextlib.contextmanager
def temporary_database(admin_url: str) -> Iterator[str]:
    """A new empty database `test_<hex>` on the server; dropped (WITH FORCE) afterwards."""
    name = f"test_{uuid.uuid4().hex}"
    run_sync(postgres.create_database(admin_url, name))
    try:
        yield postgres.database_url(admin_url, name)
    finally:
        run_sync(postgres.drop_database(admin_url, name))
