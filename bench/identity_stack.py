"""The stack of the identity benchmark (identity.py): started like the e2e tests' on its own
databases, Redis logical database and provider; set up with an admin and two API tokens; and the
versions of everything it runs on."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import platform
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import msgspec
import redis

from bodhi_devstack.components import SERVICES
from bodhi_devstack.infra import SessionServers
from bodhi_devstack.oidc import OIDC_DIR
from bodhi_devstack.postgres import drop_database
from bodhi_devstack.proc import free_port
from bodhi_devstack.redis_server import RedisDatabase
from bodhi_devstack.stack import Stack, StackPlan
from bodhi_e2e.client import BodhiClient

TOKEN_SCOPE = "scope_token_user"  # noqa: S105 - a scope name


@contextlib.contextmanager
def launch(
    servers: SessionServers,
    data_dir: Path,
    *,
    fault_proxies: bool = False,
    env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """A whole stack like the e2e tests': its own databases on the test PostgreSQL (dropped
    afterwards), its own Redis logical database (flushed and released), its own provider.
    `fault_proxies`: a FaultProxy on every link (Stack.proxies); `env`: more variables."""
    pg_url = servers.postgres().admin_url
    redis_db = RedisDatabase(servers.redis().url).claim()
    plan = StackPlan(
        data_dir=data_dir,
        gateway_port=free_port(),
        service_ports={c.name: free_port() for c in SERVICES},
        postgres_url=pg_url,
        redis_url=redis_db.url,
        oidc_port=free_port(),
        database_prefix=f"bench_{uuid.uuid4().hex[:8]}_",
        internal_key=uuid.uuid4().hex * 2,
        log_level="warn",
        extra_env={"BODHI_SHUTDOWN_GRACE_SECONDS": "3", **(env or {})},
        fault_proxies=fault_proxies,
    )
    log_path = data_dir / "stack.log"
    try:
        with log_path.open("w") as log:
            stack = Stack(plan, sink=log)
            try:
                stack.start()
                yield stack
            finally:
                stack.stop()
    except BaseException:
        sys.stderr.write("--- stack log (last 60 lines) ---\n")
        sys.stderr.writelines(log_path.read_text().splitlines(keepends=True)[-60:])
        raise
    finally:
        for component in SERVICES:
            asyncio.run(drop_database(pg_url, plan.database_name(component)))
        redis_db.flush()
        redis_db.release()


def prepare(stack: Stack) -> tuple[str, str]:
    """Set up the app, log in its first user (the admin), and make two API tokens: one to keep
    warm, one never used before the isolation check."""
    with BodhiClient(stack.gateway_url) as admin:
        response = admin.setup("Identity benchmark server")
        if response.status_code != 200:
            raise RuntimeError(f"setup: {response.status_code} {response.text}")
        admin.login_as("admin")
        return admin.create_token(TOKEN_SCOPE, "warm"), admin.create_token(TOKEN_SCOPE, "cold")


def versions(stack: Stack) -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version()}
    for package in (
        "litestar", "uvicorn", "httptools", "uvloop", "grpcio", "httpx", "redis", "asyncpg",
        "msgspec", "joserfc", "cryptography",
    ):  # fmt: skip
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    node = shutil.which("node")
    if node is not None:
        found["node"] = subprocess.run(  # noqa: S603 - our own node binary, fixed arguments
            [node, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    package_json = OIDC_DIR / "node_modules" / "oidc-provider" / "package.json"
    with contextlib.suppress(OSError, msgspec.DecodeError):
        found["oidc-provider"] = msgspec.json.decode(package_json.read_bytes())["version"]

    async def postgres_version() -> str:
        conn = await asyncpg.connect(stack.postgres_url)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    found["postgresql"] = asyncio.run(postgres_version())
    with redis.Redis.from_url(stack.redis_url) as client:
        found["redis-server"] = str(client.info("server")["redis_version"])
    return found
