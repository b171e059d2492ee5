"""aiproxy-svc wiring: the upstream session, the API model registry, the router and the
servicer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from aiproxy_svc import upstream
from aiproxy_svc.local import LocalModels
from aiproxy_svc.providers import Providers
from aiproxy_svc.proxy import Proxy
from aiproxy_svc.registry import ApiModels
from aiproxy_svc.router import Router
from aiproxy_svc.service import AiProxyServicer
from aiproxy_svc.settings import AiProxySettings
from aiproxy_svc.store import ApiModelStore
from bodhi.aiproxy.v1 import aiproxy_pb2, aiproxy_pb2_grpc
from bodhi_common.bootstrap import ServiceSpec
from bodhi_common.channels import open_channel
from bodhi_common.clock import Clock
from bodhi_common.grpc_server import GrpcServer
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.tasks import cancel
from bodhi_common.vault import Vault

SERVICE_NAME = aiproxy_pb2.DESCRIPTOR.services_by_name["AiProxyService"].full_name


@asynccontextmanager
async def register(
    server: GrpcServer, pool: asyncpg.Pool[Any], settings: AiProxySettings, clock: Clock
) -> AsyncIterator[None]:
    """Add aiproxy-svc's servicer; the change listener runs while the server does."""
    s = settings
    internal = InternalAuth(s.bodhi_internal_key, "aiproxy", clock)
    http = upstream.session(
        s.bodhi_upstream_connect_timeout_seconds, s.bodhi_upstream_read_timeout_seconds,
        s.bodhi_upstream_max_connections,
    )  # fmt: skip
    async with (
        http,
        open_channel(s.bodhi_secret_addr) as secret_channel,
        open_channel(s.bodhi_model_addr) as model_channel,
    ):
        vault = Vault(
            secret_channel, internal, s.bodhi_rpc_timeout_seconds, namespace="aiproxy",
            clock=clock, cache_seconds=s.bodhi_api_model_cache_seconds,
        )  # fmt: skip
        api_models = ApiModels(ApiModelStore(pool), vault, clock, s.bodhi_api_model_cache_seconds)
        local = LocalModels(model_channel, internal, s.bodhi_rpc_timeout_seconds)
        calls = upstream.Upstream(http, server.metrics)
        server.metrics.cache("api_models", api_models.lookups)
        router = Router(api_models, local, s.bodhi_llm_backend_url)
        assert server.live is not None
        server.live.editable("BODHI_LLM_BACKEND_URL", router.use_backend)
        proxy = Proxy(router, calls, clock)
        servicer = AiProxyServicer(api_models, Providers(api_models, calls), proxy, local)
        server.add(aiproxy_pb2_grpc.add_AiProxyServiceServicer_to_server, servicer, SERVICE_NAME)
        listener = asyncio.create_task(api_models.listen(s.database_url))
        # Serve with invalidation live where possible; without it lookups just skip the cache.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(api_models.listening.wait(), s.bodhi_db_connect_timeout_seconds)
        try:
            yield
        finally:
            await cancel(listener)


SPEC = ServiceSpec(
    component="aiproxy", migrations=Path(__file__).parent / "migrations", register=register
)
