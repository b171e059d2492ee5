"""Builders for gateway tests: the services served in-process and the gateway's settings."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator

import httpx
import msgspec
import uvicorn

from aiproxy_svc.server import SPEC as AIPROXY
from aiproxy_svc.settings import AiProxySettings
from auth_svc.server import SPEC as AUTH
from auth_svc.settings import AuthSettings
from bodhi_common.bootstrap import ServiceSpec, running_service
from bodhi_common.clock import SystemClock
from bodhi_common.config import load
from bodhi_common.grpc_server import GrpcServer
from bodhi_common.service_settings import ServiceSettings
from bodhi_devstack.proc import free_port
from gateway.app import create_app
from gateway.settings import GatewaySettings
from model_svc.server import SPEC as MODEL
from model_svc.settings import ModelSettings
from secret_svc.server import SPEC as SECRET
from secret_svc.settings import SecretSettings

KEY = "gateway-test-internal-key-0123456789"
SERVICES: dict[str, tuple[ServiceSpec, type[ServiceSettings]]] = {
    "auth": (AUTH, AuthSettings),
    "secret": (SECRET, SecretSettings),
    "model": (MODEL, ModelSettings),
    "aiproxy": (AIPROXY, AiProxySettings),
}


class Stack(msgspec.Struct, kw_only=True):
    """Addresses of what the gateway talks to; a missing service address points at nothing."""

    redis_url: str
    addresses: dict[str, str]

    def settings(self, **overrides: str) -> GatewaySettings:
        env = {
            "REDIS_URL": self.redis_url,
            "BODHI_INTERNAL_KEY": KEY,
            **{f"BODHI_{name.upper()}_ADDR": addr for name, addr in self.addresses.items()},
        }
        return load(GatewaySettings, env | overrides)


def service_env(name: str, database_url: str) -> dict[str, str]:
    """The environment of one service in these tests."""
    env = {
        "DATABASE_URL": database_url,
        "BODHI_INTERNAL_KEY": KEY,
        "BODHI_GRPC_LISTEN": "127.0.0.1:0",
    }
    if name == "secret":
        env["BODHI_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
    return env


def serve(name: str, database_url: str) -> contextlib.AbstractAsyncContextManager[GrpcServer]:
    """Serve one service on a free port against `database_url`."""
    spec, settings_type = SERVICES[name]
    env = service_env(name, database_url)
    return running_service(spec, load(settings_type, env), SystemClock(), env)


@contextlib.asynccontextmanager
async def gateway_client(stack: Stack, **settings: str) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway served by uvicorn on a free port in this event loop, and a client for it;
    `settings` are more of its variables."""
    port = free_port()
    config = uvicorn.Config(
        create_app(stack.settings(BODHI_PORT=str(port), **settings)),
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:
            yield client
    finally:
        server.should_exit = True
        await task
