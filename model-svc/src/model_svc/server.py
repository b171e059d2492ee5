"""model-svc wiring: its servicers on the shared service shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from bodhi.model.v1 import model_pb2, model_pb2_grpc
from bodhi_common.bootstrap import ServiceSpec
from bodhi_common.clock import Clock
from bodhi_common.grpc_server import GrpcServer
from model_svc.service import ModelServicer

SERVICE_NAME = model_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name


@asynccontextmanager
async def register(
    server: GrpcServer, pool: asyncpg.Pool[Any], settings: Any, clock: Clock
) -> AsyncIterator[None]:
    """Add model-svc's servicers."""
    # The RPCs it does not override yet are abstract in the stubs and UNIMPLEMENTED at run time.
    servicer = ModelServicer()  # type: ignore[abstract]
    server.add(model_pb2_grpc.add_ModelServiceServicer_to_server, servicer, SERVICE_NAME)
    yield


SPEC = ServiceSpec(
    component="model", migrations=Path(__file__).parent / "migrations", register=register
)
