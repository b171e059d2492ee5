"""model-svc wiring: the cache, stores, download workers and the servicer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bodhi.model.v1 import model_pb2, model_pb2_grpc
from bodhi_common.bootstrap import ServiceSpec
from bodhi_common.channels import open_channel
from bodhi_common.clock import Clock
from bodhi_common.grpc_server import GrpcServer
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.vault import Vault
from model_svc.alias_store import AliasStore
from model_svc.aliases import Aliases
from model_svc.catalog import Catalog
from model_svc.download_store import DownloadStore
from model_svc.downloads import Downloads
from model_svc.hub_token import HubTokens
from model_svc.metadata import MetadataReader
from model_svc.service import ModelServicer
from model_svc.settings import ModelSettings

SERVICE_NAME = model_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name


@asynccontextmanager
async def register(
    server: GrpcServer, pool: asyncpg.Pool[Any], settings: ModelSettings, clock: Clock
) -> AsyncIterator[None]:
    """Add model-svc's servicer; the download workers run while the server does."""
    settings.hub_cache.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(Path(settings.bodhi_catalog_file) if settings.bodhi_catalog_file else None)
    alias_store = AliasStore(pool)
    # aiohttp reads bodies ~3x faster than httpx here; the body read is the download's hot path.
    # No decompression: the bytes on disk must be the Hub's bytes (we ask for identity anyway).
    # `connect` bounds DNS, the wait for a pooled connection and the handshake together.
    hub_timeout = settings.bodhi_hub_timeout_seconds
    timeout = aiohttp.ClientTimeout(
        total=None, connect=hub_timeout, sock_connect=10, sock_read=hub_timeout
    )
    connector = aiohttp.TCPConnector(
        limit=settings.bodhi_download_workers * settings.bodhi_download_parts + 4
    )
    internal = InternalAuth(settings.bodhi_internal_key, "model", clock)
    async with (
        aiohttp.ClientSession(auto_decompress=False, timeout=timeout, connector=connector) as http,
        open_channel(settings.bodhi_secret_addr) as secret_channel,
    ):
        vault = Vault(
            secret_channel, internal, settings.bodhi_rpc_timeout_seconds, namespace="model",
            clock=clock, cache_seconds=settings.bodhi_hub_token_cache_seconds,
        )  # fmt: skip
        tokens = HubTokens(settings.hf_token, settings.home, vault)
        downloads = Downloads(
            DownloadStore(pool), alias_store, catalog, settings, http, tokens, clock
        )
        assert server.live is not None
        server.live.editable("BODHI_DOWNLOAD_WORKERS", downloads.resize)
        downloads.measure(server.metrics)
        async with downloads:
            servicer = ModelServicer(
                downloads, Aliases(alias_store, settings.hub_cache, clock), catalog,
                MetadataReader(alias_store), tokens, settings,
            )  # fmt: skip
            server.add(model_pb2_grpc.add_ModelServiceServicer_to_server, servicer, SERVICE_NAME)
            yield


SPEC = ServiceSpec(
    component="model", migrations=Path(__file__).parent / "migrations", register=register
)
