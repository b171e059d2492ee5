"""The shape every service shares: open its database and migrate it, build its gRPC server with
internal auth, health and SettingsService, add the service's own servicers, serve until told to
stop. A service's server.py only says what is its own:

    @asynccontextmanager
    async def register(server, pool, settings, clock) -> AsyncIterator[None]:
        server.add(secret_pb2_grpc.add_SecretServiceServicer_to_server, SecretServicer(...), NAME)
        yield

    SPEC = ServiceSpec(component="secret", migrations=Path(...), register=register)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bodhi.settings.v1 import settings_pb2, settings_pb2_grpc
from bodhi_common import logs
from bodhi_common.clock import Clock, SystemClock
from bodhi_common.db import open_pool
from bodhi_common.grpc_server import GrpcServer, wait_for_shutdown
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.live_settings import LiveSettings, PostgresSettingStore
from bodhi_common.metrics_http import metrics_address
from bodhi_common.migrations import migrate
from bodhi_common.notify import listen_forever
from bodhi_common.runner import run
from bodhi_common.service_settings import ServiceSettings
from bodhi_common.settings_service import SettingsServicer
from bodhi_common.tasks import cancel

COMMON_MIGRATIONS = Path(__file__).parent / "migrations"
SETTINGS_SERVICE = settings_pb2.DESCRIPTOR.services_by_name["SettingsService"].full_name


@asynccontextmanager
async def service_database(
    component: str, settings: ServiceSettings, migrations: Path, clock: Clock
) -> AsyncIterator[asyncpg.Pool[Any]]:
    """The service's pool, migrated to the latest schema (common tables first); closed on exit."""
    pool = await open_pool(
        settings.database_url,
        max_size=settings.bodhi_db_pool_size,
        timeout=settings.bodhi_db_connect_timeout_seconds,
        clock=clock,
    )
    try:
        await migrate(pool, [("common", COMMON_MIGRATIONS), (component, migrations)])
        yield pool
    finally:
        await pool.close()


def service_server(
    component: str,
    settings: ServiceSettings,
    pool: asyncpg.Pool[Any],
    clock: Clock,
    environ: Mapping[str, str] | None = None,
) -> GrpcServer:
    """A gRPC server for `component` ("auth", "secret", …) with SettingsService registered;
    its health follows whether the database answers. `environ` is what `settings` was loaded
    from (the process environment by default), to report each setting's source."""

    async def database_answers() -> bool:
        return bool(await pool.fetchval("SELECT 1", timeout=2))

    server = GrpcServer(
        listen=settings.bodhi_grpc_listen,
        auth=InternalAuth(settings.bodhi_internal_key, component, clock),
        grace=settings.bodhi_shutdown_grace_seconds,
        probe=database_answers,
        metrics_listen=metrics_address(settings.bodhi_metrics_listen, settings.bodhi_grpc_listen),
        max_concurrent_rpcs=settings.bodhi_grpc_max_concurrent_rpcs,
    )
    server.metrics.pool(pool)
    live = LiveSettings(
        settings, os.environ if environ is None else environ, PostgresSettingStore(pool)
    )
    live.editable("BODHI_LOG_LEVEL", logs.set_level)
    server.live = live
    servicer = SettingsServicer(f"{component}-svc", live)
    server.add(settings_pb2_grpc.add_SettingsServiceServicer_to_server, servicer, SETTINGS_SERVICE)
    return server


@asynccontextmanager
async def live_settings(server: GrpcServer, settings: ServiceSettings) -> AsyncIterator[None]:
    """Stored values applied before serving; every replica re-applies when one changes them."""
    live = server.live
    assert live is not None, "service_server sets it"
    await live.refresh()

    def changed(_key: str) -> None:
        tasks.add(asyncio.ensure_future(live.refresh()))

    tasks: set[asyncio.Future[None]] = set()
    listener = asyncio.ensure_future(
        listen_forever(
            settings.database_url, PostgresSettingStore.CHANNEL, changed,
            lambda: changed(""), lambda: None,
        )
    )  # fmt: skip
    try:
        yield
    finally:
        await cancel(listener, *tasks)  # type: ignore[arg-type]


@asynccontextmanager
async def serving(server: GrpcServer) -> AsyncIterator[GrpcServer]:
    """Start the server; on exit stop it gracefully."""
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


# Adds a service's servicers and holds what they need while the server runs (caches, background
# tasks); entered before the server starts, left after it has stopped.
Register = Callable[
    [GrpcServer, "asyncpg.Pool[Any]", Any, Clock], AbstractAsyncContextManager[None]
]


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """What makes a service itself: its name, its migrations and its servicers."""

    component: str  # "auth", "secret", "model", "aiproxy": names its token audience and logs
    migrations: Path
    register: Register  # (server, pool, settings, clock) -> context holding its servicers


@asynccontextmanager
async def running_service(
    spec: ServiceSpec,
    settings: ServiceSettings,
    clock: Clock,
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[GrpcServer]:
    """The service serving on its port until the block exits (tests listen on port 0)."""
    async with service_database(spec.component, settings, spec.migrations, clock) as pool:
        server = service_server(spec.component, settings, pool, clock, environ)
        async with (
            spec.register(server, pool, settings, clock),
            live_settings(server, settings),
            serving(server),
        ):
            yield server


def service_main(spec: ServiceSpec, settings_type: type[ServiceSettings]) -> None:
    """The entry point of `python -m <service>`: serve until SIGTERM/SIGINT."""

    async def serve(settings: ServiceSettings) -> None:
        async with running_service(spec, settings, SystemClock()):
            await wait_for_shutdown()

    run(f"{spec.component}-svc", settings_type, serve)
