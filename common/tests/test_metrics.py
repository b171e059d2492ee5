"""A service's /metrics port, scraped for real and read with the Prometheus text parser: gRPC
calls by method and status code, database pool use, event-loop lag and cache hit counts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import pytest

from bodhi.auth.v1 import auth_pb2, auth_pb2_grpc
from bodhi_common.bootstrap import ServiceSpec, running_service
from bodhi_common.clock import Clock, SystemClock
from bodhi_common.config import load
from bodhi_common.errors import NotFound
from bodhi_common.grpc_server import GrpcServer
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.metrics import HitCounter, Metrics
from bodhi_common.metrics_http import metrics_address
from bodhi_common.service_settings import ServiceSettings
from bodhi_devstack.scrape import parse, value

KEY = "metrics-test-internal-key-0123456789"
INFO = "bodhi.auth.v1.AuthService/GetAppInfo"
SETUP = "bodhi.auth.v1.AuthService/SetupApp"
LOGOUT = "bodhi.auth.v1.AuthService/Logout"


class Servicer(auth_pb2_grpc.AuthServiceServicer):
    """Answers, fails with NOT_FOUND, or never answers."""

    async def GetAppInfo(self, request: Any, context: Any) -> auth_pb2.GetAppInfoResponse:
        return auth_pb2.GetAppInfoResponse(version="1")

    async def SetupApp(self, request: Any, context: Any) -> auth_pb2.SetupAppResponse:
        raise NotFound("no such app", code="app_not_found")

    async def Logout(self, request: Any, context: Any) -> auth_pb2.LogoutResponse:
        await asyncio.Event().wait()
        raise AssertionError("never")


@asynccontextmanager
async def register(
    server: GrpcServer, pool: asyncpg.Pool[Any], settings: Any, clock: Clock
) -> AsyncIterator[None]:
    add = auth_pb2_grpc.add_AuthServiceServicer_to_server
    server.add(add, Servicer(), "bodhi.auth.v1.AuthService")
    yield


SPEC = ServiceSpec(component="auth", migrations=Path("/nonexistent"), register=register)


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[GrpcServer]:
    environ = {
        "DATABASE_URL": database_url,
        "BODHI_INTERNAL_KEY": KEY,
        "BODHI_GRPC_LISTEN": "127.0.0.1:0",
        "BODHI_METRICS_LISTEN": "127.0.0.1:0",
        "BODHI_DB_POOL_SIZE": "3",
    }
    settings = load(ServiceSettings, environ)
    async with running_service(SPEC, settings, SystemClock(), environ) as server:
        yield server


async def scrape(server: GrpcServer, path: str = "/metrics") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{server.metrics_port}{path}", timeout=5)


async def test_grpc_calls_are_counted_by_method_and_code(server: GrpcServer) -> None:
    gateway = InternalAuth(KEY, "gateway", SystemClock()).metadata("auth")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        for _ in range(2):
            await stub.GetAppInfo(auth_pb2.GetAppInfoRequest(), metadata=gateway)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GetAppInfo(auth_pb2.GetAppInfoRequest())  # no internal token
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.SetupApp(auth_pb2.SetupAppRequest(), metadata=gateway)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Logout(auth_pb2.LogoutRequest(), metadata=gateway, timeout=0.2)
    response = await scrape(server)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = parse(response.text)
    handled = "bodhi_grpc_server_handled_total"
    assert value(samples, handled, method=INFO, code="OK") == 2
    assert value(samples, handled, method=INFO, code="UNAUTHENTICATED") == 1
    assert value(samples, handled, method=SETUP, code="NOT_FOUND") == 1
    for _ in range(50):  # the server notices the lapsed deadline on its own schedule
        if value(samples, handled, method=LOGOUT, code="DEADLINE_EXCEEDED") == 1:
            break
        await asyncio.sleep(0.05)
        samples = parse((await scrape(server)).text)
    assert value(samples, handled, method=LOGOUT, code="DEADLINE_EXCEEDED") == 1
    assert value(samples, "bodhi_grpc_server_handling_seconds_count", method=INFO) == 3
    # health and reflection are not the service's API: never counted
    assert not any("grpc.health" in dict(labels).get("method", "") for _, labels in samples)


async def test_database_pool_use_is_exported(server: GrpcServer) -> None:
    samples = parse((await scrape(server)).text)
    assert value(samples, "bodhi_db_pool_max_connections") == 3
    open_connections = value(samples, "bodhi_db_pool_connections") or 0
    busy = value(samples, "bodhi_db_pool_busy_connections")
    assert 1 <= open_connections <= 3
    assert busy is not None
    assert 0 <= busy <= open_connections


async def test_only_get_metrics_is_served(server: GrpcServer) -> None:
    assert (await scrape(server, "/")).status_code == 404
    assert (await scrape(server, "/metrics?x=1")).status_code == 200
    async with httpx.AsyncClient() as client:
        posted = await client.post(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5)
    assert posted.status_code == 405


async def test_event_loop_lag_is_measured() -> None:
    metrics = Metrics()
    watcher = asyncio.create_task(metrics.watch_loop(interval=0.01))
    await asyncio.sleep(0)  # the watcher's timer is set
    time.sleep(0.1)  # noqa: ASYNC251 - blocking the loop is the point
    await asyncio.sleep(0.05)
    watcher.cancel()
    samples = parse(metrics.exposition().decode())
    assert (value(samples, "bodhi_event_loop_lag_seconds_count") or 0) >= 1
    # the timer was due 10 ms after it was set and ran only after the 100 ms block
    assert (value(samples, "bodhi_event_loop_lag_seconds_sum") or 0) >= 0.09


def test_cache_hits_and_values_are_read_when_scraped() -> None:
    metrics = Metrics()
    counter = HitCounter()
    metrics.cache("bearer", counter)
    received = [0]
    metrics.counter("bodhi_test_bytes", "Bytes", lambda: received[0])
    counter.hits += 3
    counter.misses += 1
    received[0] = 42
    samples = parse(metrics.exposition().decode())
    assert value(samples, "bodhi_cache_lookups_total", cache="bearer", result="hit") == 3
    assert value(samples, "bodhi_cache_lookups_total", cache="bearer", result="miss") == 1
    assert value(samples, "bodhi_test_bytes_total") == 42


def test_each_process_keeps_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.cache("a", HitCounter())
    assert b'cache="a"' not in second.exposition()


def test_the_metrics_port_follows_the_grpc_port_unless_set() -> None:
    assert metrics_address(None, "0.0.0.0:50052") == "0.0.0.0:51052"
    assert metrics_address(None, "127.0.0.1:0") == "127.0.0.1:0"
    assert metrics_address("127.0.0.1:9100", "127.0.0.1:50052") == "127.0.0.1:9100"
