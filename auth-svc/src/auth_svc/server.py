"""auth-svc wiring: its servicers on the shared service shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg

from auth_svc.service import AuthServicer
from auth_svc.store import AuthStore
from bodhi.auth.v1 import auth_pb2, auth_pb2_grpc
from bodhi_common.bootstrap import ServiceSpec
from bodhi_common.clock import Clock
from bodhi_common.grpc_server import GrpcServer

SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


@asynccontextmanager
async def register(
    server: GrpcServer, pool: asyncpg.Pool[Any], settings: Any, clock: Clock
) -> AsyncIterator[None]:
    """Add auth-svc's servicers."""
    # The RPCs it does not override yet are abstract in the stubs and UNIMPLEMENTED at run time.
    servicer = AuthServicer(AuthStore(pool), version("bodhi-auth-svc"))  # type: ignore[abstract]
    server.add(auth_pb2_grpc.add_AuthServiceServicer_to_server, servicer, SERVICE_NAME)
    yield


SPEC = ServiceSpec(
    component="auth", migrations=Path(__file__).parent / "migrations", register=register
)
