"""secret-svc wiring: its servicers on the shared service shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from bodhi.secret.v1 import secret_pb2, secret_pb2_grpc
from bodhi_common.bootstrap import ServiceSpec
from bodhi_common.clock import Clock
from bodhi_common.grpc_server import GrpcServer
from secret_svc.service import SecretServicer

SERVICE_NAME = secret_pb2.DESCRIPTOR.services_by_name["SecretService"].full_name


@asynccontextmanager
async def register(
    server: GrpcServer, pool: asyncpg.Pool[Any], settings: Any, clock: Clock
) -> AsyncIterator[None]:
    """Add secret-svc's servicers."""
    # The RPCs it does not override yet are abstract in the stubs and UNIMPLEMENTED at run time.
    servicer = SecretServicer()  # type: ignore[abstract]
    server.add(secret_pb2_grpc.add_SecretServiceServicer_to_server, servicer, SERVICE_NAME)
    yield


SPEC = ServiceSpec(
    component="secret", migrations=Path(__file__).parent / "migrations", register=register
)
