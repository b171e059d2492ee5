"""secret-svc wiring: the vault (opened before serving) and its servicer."""

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
from secret_svc.audit import Auditor
from secret_svc.service import SecretServicer
from secret_svc.settings import SecretSettings
from secret_svc.store import SecretStore
from secret_svc.vault import Vault

SERVICE_NAME = secret_pb2.DESCRIPTOR.services_by_name["SecretService"].full_name


@asynccontextmanager
async def register(
    server: GrpcServer, pool: asyncpg.Pool[Any], settings: SecretSettings, clock: Clock
) -> AsyncIterator[None]:
    """Open the vault (a wrong master key stops the start here) and add the servicer."""
    store = SecretStore(pool)
    vault = await Vault.open(store, settings, clock)
    retention = settings.bodhi_audit_retention_days
    async with Auditor(store, vault.audit_key, clock, retention) as auditor:
        servicer = SecretServicer(vault, auditor, settings)
        server.add(secret_pb2_grpc.add_SecretServiceServicer_to_server, servicer, SERVICE_NAME)
        yield


SPEC = ServiceSpec(
    component="secret", migrations=Path(__file__).parent / "migrations", register=register
)
