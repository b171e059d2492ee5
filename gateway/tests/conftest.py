"""Gateway tests: the real app over HTTP, in front of the real services served in-process on
local ports, each with its own fresh database, and a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from bodhi_common.grpc_server import GrpcServer
from bodhi_devstack.infra import temporary_database

from support import SERVICES, Stack, gateway_client, serve


@pytest.fixture
def databases(pg_server: str) -> Iterator[dict[str, str]]:
    """One fresh database per service."""
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(temporary_database(pg_server)) for name in SERVICES}


@pytest.fixture
async def services(databases: dict[str, str]) -> AsyncIterator[dict[str, GrpcServer]]:
    """All four services serving on free local ports."""
    async with contextlib.AsyncExitStack() as stack:
        started = await asyncio.gather(
            *(stack.enter_async_context(serve(name, databases[name])) for name in SERVICES)
        )
        yield dict(zip(SERVICES, started, strict=True))


@pytest.fixture
def stack(services: dict[str, GrpcServer], redis_url: str) -> Stack:
    return Stack(
        redis_url=redis_url,
        addresses={name: f"127.0.0.1:{server.port}" for name, server in services.items()},
    )


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_client(stack) as client:
        yield client
