"""Helpers for auth-svc tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import grpc

from auth_svc.domain import Role
from auth_svc.server import SPEC
from auth_svc.settings import AuthSettings
from bodhi.auth.v1 import auth_pb2_grpc
from bodhi_common.bootstrap import running_service
from bodhi_common.clock import SystemClock
from bodhi_common.config import load
from bodhi_common.context import Principal
from bodhi_common.errors import CODE_KEY
from bodhi_common.internal_auth import InternalAuth, Metadata

KEY = "auth-svc-test-internal-key-0123456789"


def as_gateway() -> Metadata:
    """Metadata of a call made by the gateway."""
    return InternalAuth(KEY, "gateway", SystemClock()).metadata("auth")


# --- People, tokens and the installation, set up directly in the database -------------------

CLIENT_ID = "bodhi-test-client"


def as_person(user_id: str, role: str | None = None) -> Metadata:
    """Metadata of a call the gateway makes for a logged-in person."""
    principal = Principal(sub=user_id, role=role)
    return InternalAuth(KEY, "gateway", SystemClock()).metadata("auth", principal)


async def refusal(call: Awaitable[Any]) -> tuple[grpc.StatusCode, str]:
    """The gRPC status and `bodhi-error-code` of a call that must fail."""
    try:
        await call
    except grpc.aio.AioRpcError as err:
        return err.code(), dict(err.trailing_metadata() or ())[CODE_KEY]
    raise AssertionError("the call succeeded")


async def sql(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    """Run one statement on the service's database (rows, if any)."""
    conn: asyncpg.Connection[Any] = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def add_person(
    database_url: str, user_id: str, role: Role | None = None, username: str | None = None
) -> None:
    """A person as a login would have recorded them (there is no provider in these tests)."""
    await sql(
        database_url,
        "INSERT INTO users (user_id, issuer, username, role, created_at, updated_at)"
        " VALUES ($1, 'https://op.test', $2, $3, now(), now())",
        user_id, username or user_id, role.wire if role else None,
    )  # fmt: skip


async def add_app(
    database_url: str, status: str = "ready", client_id: str | None = CLIENT_ID
) -> None:
    """The installation's row, as setup would have stored it."""
    await sql(
        database_url,
        "INSERT INTO app (status, name, client_id) VALUES ($1, 'My Bodhi server', $2)",
        status, client_id,
    )  # fmt: skip


async def dump_database(database_url: str) -> str:
    """Every row of every table as text: what a stolen backup would show."""
    tables = await sql(database_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    lines = []
    for (table,) in tables:
        rows = await sql(database_url, f'SELECT t::text FROM "{table}" t')
        lines += [f"{table}: {row[0]}" for row in rows]
    return "\n".join(lines)


@asynccontextmanager
async def serving_auth(
    database_url: str, **env: str
) -> AsyncIterator[auth_pb2_grpc.AuthServiceStub]:
    """auth-svc on a free port with extra settings (e.g. BODHI_OIDC_CLIENT_ID); leaving the
    block stops it, which flushes the API-token usage recorder."""
    environ = {
        "DATABASE_URL": database_url,
        "BODHI_INTERNAL_KEY": KEY,
        "BODHI_GRPC_LISTEN": "127.0.0.1:0",
        **env,
    }
    async with (
        running_service(SPEC, load(AuthSettings, environ), SystemClock(), environ) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        yield auth_pb2_grpc.AuthServiceStub(channel)
