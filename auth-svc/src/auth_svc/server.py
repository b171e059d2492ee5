"""auth-svc wiring: stores, the OpenID provider client, the vault client and the servicer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from auth_svc.access_store import AccessStore
from auth_svc.identity import Identity
from auth_svc.login import Login
from auth_svc.oidc import OidcProvider
from auth_svc.service import AuthServicer
from auth_svc.settings import AuthSettings
from auth_svc.store import AuthStore
from auth_svc.token_store import TokenStore
from auth_svc.tokens import ApiTokens
from bodhi.auth.v1 import auth_pb2, auth_pb2_grpc
from bodhi_common.bootstrap import ServiceSpec
from bodhi_common.channels import open_channel
from bodhi_common.clock import Clock
from bodhi_common.grpc_server import GrpcServer
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.vault import Vault

SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


@asynccontextmanager
async def register(
    server: GrpcServer, pool: asyncpg.Pool[Any], settings: AuthSettings, clock: Clock
) -> AsyncIterator[None]:
    """Add auth-svc's servicer with everything it calls."""
    timeout = httpx.Timeout(settings.bodhi_provider_timeout_seconds, connect=3.0)
    internal = InternalAuth(settings.bodhi_internal_key, "auth", clock)
    async with (
        httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http,
        open_channel(settings.bodhi_secret_addr) as secret_channel,
    ):
        issuer = settings.bodhi_oidc_issuer
        provider = OidcProvider(issuer, http, clock) if issuer else None
        vault = Vault(
            secret_channel, internal, settings.bodhi_rpc_timeout_seconds,
            namespace="auth", clock=clock,
        )  # fmt: skip
        store = AuthStore(pool)
        login = Login(provider, store, vault, settings, clock)
        identity = Identity(store, AccessStore(pool), clock)
        async with ApiTokens(TokenStore(pool), store, clock) as tokens:
            servicer = AuthServicer(store, login, identity, tokens, version("bodhi-auth-svc"))
            server.add(auth_pb2_grpc.add_AuthServiceServicer_to_server, servicer, SERVICE_NAME)
            yield


SPEC = ServiceSpec(
    component="auth", migrations=Path(__file__).parent / "migrations", register=register
)
