"""aiproxy-svc wiring: its servicers on the shared service shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from aiproxy_svc.service import AiProxyServicer
from bodhi.aiproxy.v1 import aiproxy_pb2, aiproxy_pb2_grpc
from bodhi_common.bootstrap import ServiceSpec
from bodhi_common.clock import Clock
from bodhi_common.grpc_server import GrpcServer

SERVICE_NAME = aiproxy_pb2.DESCRIPTOR.services_by_name["AiProxyService"].full_name


@asynccontextmanager
async def register(
    server: GrpcServer, pool: asyncpg.Pool[Any], settings: Any, clock: Clock
) -> AsyncIterator[None]:
    """Add aiproxy-svc's servicers."""
    # The RPCs it does not override yet are abstract in the stubs and UNIMPLEMENTED at run time.
    servicer = AiProxyServicer()  # type: ignore[abstract]
    server.add(aiproxy_pb2_grpc.add_AiProxyServiceServicer_to_server, servicer, SERVICE_NAME)
    yield


SPEC = ServiceSpec(
    component="aiproxy", migrations=Path(__file__).parent / "migrations", register=register
)
