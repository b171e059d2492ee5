"""secret-svc tests: the real servicer on a local port, a fresh database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest

from bodhi.secret.v1 import secret_pb2_grpc
from bodhi_common.bootstrap import COMMON_MIGRATIONS, running_service
from bodhi_common.clock import SystemClock
from bodhi_common.migrations import migrate
from secret_svc.server import SPEC
from secret_svc.store import SecretStore

from support import new_master_key, settings_env, settings_of


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return settings_env(database_url, BODHI_MASTER_KEY=new_master_key())


@pytest.fixture
async def secrets(env: dict[str, str]) -> AsyncIterator[secret_pb2_grpc.SecretServiceStub]:
    async with (
        running_service(SPEC, settings_of(env), SystemClock(), env) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        yield secret_pb2_grpc.SecretServiceStub(channel)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool[Any]]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        yield pool


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SecretStore]:
    """The vault's store on a migrated database, for tests that open vaults themselves."""
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        await migrate(pool, [("common", COMMON_MIGRATIONS), ("secret", SPEC.migrations)])
        yield SecretStore(pool)
