"""The Litestar application: `create_app(settings)` wires clients, routes and error handling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from litestar import Litestar, Response, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.status_codes import HTTP_302_FOUND
from redis.asyncio import Redis

from bodhi_common.clock import SystemClock
from bodhi_common.internal_auth import InternalAuth
from gateway.clients import Backends
from gateway.errors import EXCEPTION_HANDLERS
from gateway.middleware import request_id_middleware
from gateway.routes import system
from gateway.settings import GatewaySettings


@get("/swagger-ui", include_in_schema=False)
async def swagger_ui() -> Response[None]:
    """The Swagger UI lives under /api-docs; keep the reference's address working."""
    return Response(None, status_code=HTTP_302_FOUND, headers={"Location": "/api-docs/swagger"})


def create_app(settings: GatewaySettings) -> Litestar:
    """Build the app; channels and the Redis client open in the lifespan, not here."""
    internal = InternalAuth(settings.bodhi_internal_key, "gateway", SystemClock())
    backends = Backends(settings, internal)
    redis = Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.bodhi_ready_timeout_seconds,
        socket_connect_timeout=settings.bodhi_ready_timeout_seconds,
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        backends.open()
        try:
            yield
        finally:
            await backends.close()
            await redis.aclose()

    return Litestar(
        route_handlers=[*system.ROUTES, swagger_ui],
        dependencies={
            "backends": Provide(lambda: backends, use_cache=True, sync_to_thread=False),
            "redis": Provide(lambda: redis, use_cache=True, sync_to_thread=False),
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_id_middleware],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Bodhi API",
            version=version("bodhi-gateway"),
            path="/api-docs",
            render_plugins=[SwaggerRenderPlugin(path="/swagger")],
        ),
        logging_config=None,  # logs go through bodhi_common.logs (JSON lines)
        debug=False,
    )
