"""The whole stack, started like `make run` (same processes, same variables), on free ports,
against the test PostgreSQL/Redis servers and the dev OIDC provider; stopped at the end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from bodhi_e2e.client import BodhiClient

from bodhi_devstack.components import SERVICES
from bodhi_devstack.postgres import drop_database
from bodhi_devstack.proc import free_port
from bodhi_devstack.redis_server import RedisDatabase
from bodhi_devstack.stack import Stack, StackPlan


@pytest.fixture(scope="session")
def stack(
    pg_server: str, bodhi_redis_database: RedisDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("stack")
    plan = StackPlan(
        data_dir=data_dir,
        gateway_port=free_port(),
        service_ports={c.name: free_port() for c in SERVICES},
        postgres_url=pg_server,
        redis_url=bodhi_redis_database.url,
        oidc_port=free_port(),
        database_prefix=f"e2e_{uuid.uuid4().hex[:8]}_",
        internal_key=uuid.uuid4().hex * 2,
        extra_env={"BODHI_SHUTDOWN_GRACE_SECONDS": "3"},
    )
    with (data_dir / "stack.log").open("w") as log:
        stack = Stack(plan, sink=log)
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()
            for component in SERVICES:
                asyncio.run(drop_database(pg_server, plan.database_name(component)))


@pytest.fixture
def bodhi(stack: Stack) -> Iterator[BodhiClient]:
    client = BodhiClient(stack.gateway_url)
    yield client
    client.close()
