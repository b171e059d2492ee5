"""auth-svc tests: the servicer served for real on a local port against a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from auth_svc.server import SPEC
from auth_svc.settings import AuthSettings
from bodhi.auth.v1 import auth_pb2_grpc
from bodhi_common.bootstrap import running_service
from bodhi_common.clock import SystemClock
from bodhi_common.config import load

from support import KEY


@pytest.fixture
async def auth(database_url: str) -> AsyncIterator[auth_pb2_grpc.AuthServiceStub]:
    env = {
        "DATABASE_URL": database_url,
        "BODHI_INTERNAL_KEY": KEY,
        "BODHI_GRPC_LISTEN": "127.0.0.1:0",
    }
    async with (
        running_service(SPEC, load(AuthSettings, env), SystemClock(), env) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        yield auth_pb2_grpc.AuthServiceStub(channel)
