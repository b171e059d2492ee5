"""Health follows the service's dependencies: NOT_SERVING while its probe fails, SERVING again
once it passes."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bodhi_common.clock import SystemClock
from bodhi_common.grpc_server import GrpcServer
from bodhi_common.internal_auth import InternalAuth

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def status(stub: health_pb2_grpc.HealthStub) -> int:
    return (await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)).status


async def eventually(stub: health_pb2_grpc.HealthStub, expected: int) -> int:
    for _ in range(100):
        if await status(stub) == expected:
            break
        await asyncio.sleep(0.02)
    return await status(stub)


async def test_health_follows_the_dependency_probe() -> None:
    database_up = True

    async def probe() -> bool:
        return database_up

    auth = InternalAuth("health-test-internal-key-0123456789", "auth", SystemClock())
    server = GrpcServer(listen="127.0.0.1:0", auth=auth, grace=1, probe=probe)
    port = await server.start(interval=0.05)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        assert await status(stub) == SERVING
        database_up = False
        assert await eventually(stub, NOT_SERVING) == NOT_SERVING
        database_up = True
        assert await eventually(stub, SERVING) == SERVING
        await server.stop()


async def test_calls_past_the_concurrency_cap_are_refused_not_queued() -> None:
    """BODHI_GRPC_MAX_CONCURRENT_RPCS bounds what a service holds: with a cap of one, an open
    stream (a health Watch) takes the only place and the next call is refused at once with
    RESOURCE_EXHAUSTED; once the stream ends, calls are served again."""

    async def probe() -> bool:
        return True

    auth = InternalAuth("health-test-internal-key-0123456789", "auth", SystemClock())
    server = GrpcServer(
        listen="127.0.0.1:0", auth=auth, grace=1, probe=probe, max_concurrent_rpcs=1
    )
    port = await server.start(interval=0.05)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        watch = stub.Watch(health_pb2.HealthCheckRequest())
        assert (await watch.read()).status == SERVING
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await status(stub)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        watch.cancel()
        for _ in range(100):  # the cancelled stream gives its place back
            try:
                assert await status(stub) == SERVING
                break
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.02)
        else:
            raise AssertionError("calls were not served again after the stream ended")
        await server.stop()
