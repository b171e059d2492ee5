"""Builders for model-svc service tests: settings on a fresh database and a temporary HF home,
callers' metadata, and a catalog pointing at the local Hub."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc

from bodhi.model.v1 import model_pb2 as pb
from bodhi.model.v1 import model_pb2_grpc
from bodhi_common.bootstrap import running_service
from bodhi_common.clock import SystemClock
from bodhi_common.config import load
from bodhi_common.context import Principal
from bodhi_common.internal_auth import InternalAuth, Metadata
from model_svc.server import SPEC
from model_svc.settings import ModelSettings

KEY = "model-svc-test-internal-key-0123456789"
TERMINAL = (pb.DOWNLOAD_STATUS_COMPLETED, pb.DOWNLOAD_STATUS_ERROR, pb.DOWNLOAD_STATUS_CANCELLED)


def service_env(database_url: str, hf_home: Path, hub_url: str, **extra: str) -> dict[str, str]:
    """The environment of a model-svc for one test."""
    return {
        "DATABASE_URL": database_url,
        "BODHI_INTERNAL_KEY": KEY,
        "BODHI_GRPC_LISTEN": "127.0.0.1:0",
        "HF_HOME": str(hf_home),
        "HF_ENDPOINT": hub_url,
        "BODHI_DOWNLOAD_STALL_SECONDS": "2",
        "BODHI_DOWNLOAD_LEASE_SECONDS": "3",
        **extra,
    }


def as_power_user() -> Metadata:
    """Metadata of a call the gateway makes for a power user."""
    principal = Principal(sub="pu-1", role="resource_power_user")
    return InternalAuth(KEY, "gateway", SystemClock()).metadata("model", principal)


async def refusal(call: Any) -> tuple[grpc.StatusCode, str]:
    """The status and bodhi-error-code of a call that must fail."""
    try:
        await call
    except grpc.aio.AioRpcError as err:
        return err.code(), dict(err.trailing_metadata() or ())["bodhi-error-code"]
    raise AssertionError("the call succeeded")


async def finished(stub: Any, download_id: str, timeout: float = 20.0) -> Any:
    """The download once it has ended."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        reply = await stub.GetDownload(
            pb.GetDownloadRequest(id=download_id), metadata=as_power_user()
        )
        if reply.download.status in TERMINAL:
            return reply.download
        await asyncio.sleep(0.05)
    raise AssertionError("the download did not finish")


@contextlib.asynccontextmanager
async def serving(env: dict[str, str]) -> AsyncIterator[model_pb2_grpc.ModelServiceStub]:
    """model-svc with this environment, on a free port."""
    async with (
        running_service(SPEC, load(ModelSettings, env), SystemClock(), env) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        yield model_pb2_grpc.ModelServiceStub(channel)
