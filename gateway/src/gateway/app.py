"""The Litestar application: `create_app(settings)` wires clients, routes and error handling."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from litestar import Litestar, Request, Response, Router, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.status_codes import HTTP_302_FOUND
from redis.asyncio import Redis

from bodhi_common.clock import Clock, SystemClock
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.tasks import cancel
from gateway import live
from gateway.authn import Authenticator
from gateway.bearer_cache import BearerCache
from gateway.canonical import canonical_middleware
from gateway.clients import Backends
from gateway.errors import EXCEPTION_HANDLERS
from gateway.hostile import GatewayRequest, request_guard
from gateway.identity import AuthContext
from gateway.litestar_app import MsgspecLitestar
from gateway.metrics import GatewayMetrics
from gateway.middleware import request_id_middleware
from gateway.oauth import OAuthFlow
from gateway.openapi_errors import document_errors
from gateway.openapi_security import document_security, security_components
from gateway.rate_limits import RateLimits
from gateway.routes import (
    access,
    api_models,
    auth,
    hub_token,
    models,
    ollama,
    openai,
    system,
    tokens,
    ui,
)  # fmt: skip
from gateway.routes import (
    settings as settings_routes,
)
from gateway.sessions import SessionStore
from gateway.settings import GatewaySettings
from gateway.web import Web


@get("/swagger-ui", include_in_schema=False)
async def swagger_ui() -> Response[None]:
    """The Swagger UI lives under /api-docs; keep the reference's address working."""
    return Response(None, status_code=HTTP_302_FOUND, headers={"Location": "/api-docs/swagger"})


def _wiring(settings: GatewaySettings, clock: Clock) -> dict[str, Any]:
    """Every long-lived object, built once; handlers name the ones they use."""
    s = settings
    redis = Redis.from_url(
        s.redis_url,
        socket_timeout=s.bodhi_ready_timeout_seconds,
        socket_connect_timeout=s.bodhi_ready_timeout_seconds,
        retry_on_timeout=False,
    )
    backends = Backends(s, InternalAuth(s.bodhi_internal_key, "gateway", clock))
    web = Web(s)
    sessions = SessionStore(
        redis, clock, idle=s.bodhi_session_idle_seconds, absolute=s.bodhi_session_absolute_seconds
    )
    cache = BearerCache(
        redis, clock, s.bodhi_bearer_cache_seconds, stale=s.bodhi_bearer_stale_seconds
    )
    limits = RateLimits(redis, clock, s)
    backends.settings.live = live.gateway_settings(s, os.environ, redis, sessions)
    return {
        "settings": s, "redis": redis, "backends": backends, "web": web, "sessions": sessions,
        "bearer_cache": cache, "limits": limits,
        "authenticator": Authenticator(backends.auth, sessions, cache, limits, redis, web, clock),
        "oauth": OAuthFlow(backends.auth, sessions, redis, clock),
    }  # fmt: skip


async def _caller(
    request: Request[Any, Any, Any], authenticator: NamedDependency[Authenticator]
) -> AuthContext:
    """The `ctx` dependency: who is calling (resolved once per request, guards included)."""
    return await authenticator.context(request)


def _constant(value: Any) -> Any:
    def provide() -> Any:
        return value

    return provide


def create_app(settings: GatewaySettings, clock: Clock | None = None) -> Litestar:
    """Build the app inside the event loop that will serve it (gRPC channels bind to it); the
    invalidation listener runs for the lifespan."""
    wiring = _wiring(settings, clock or SystemClock())
    metrics = GatewayMetrics(wiring["bearer_cache"].lookups)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        listener = asyncio.create_task(wiring["bearer_cache"].listen())
        settings_live = wiring["backends"].settings.live
        follower = asyncio.create_task(live.follow(settings_live, wiring["redis"]))
        try:
            yield
        finally:
            await cancel(listener, follower)
            await wiring["backends"].close()
            await wiring["redis"].aclose()

    ai_body = settings.bodhi_max_ai_body_bytes
    app = MsgspecLitestar(
        route_handlers=[
            *system.ROUTES,
            *auth.ROUTES,
            *tokens.ROUTES,
            *access.ROUTES,
            *models.ROUTES,
            *hub_token.ROUTES,
            *api_models.ROUTES,
            *openai.ROUTES,
            Router("/", route_handlers=openai.PROXIED, request_max_body_size=ai_body),
            ollama.router(ai_body),
            *ui.ROUTES,
            *settings_routes.ROUTES,
            swagger_ui,
            metrics.route,
        ],
        dependencies={
            **{
                name: Provide(_constant(value), use_cache=True, sync_to_thread=False)
                for name, value in wiring.items()
            },
            "ctx": Provide(_caller),
        },
        # Guards, and the proxy's hot handlers (which skip dependency injection), read these.
        state=State({"authenticator": wiring["authenticator"], "backends": wiring["backends"]}),
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_id_middleware, request_guard(settings.bodhi_max_header_bytes)],
        request_class=GatewayRequest,
        request_max_body_size=settings.bodhi_max_body_bytes,
        lifespan=[lifespan, metrics.lifespan],
        openapi_config=OpenAPIConfig(
            title="Bodhi API",
            version=version("bodhi-gateway"),
            path="/api-docs",
            render_plugins=[SwaggerRenderPlugin(path="/swagger")],
            components=security_components(wiring["web"].session_cookie),
        ),
        logging_config=None,  # logs go through bodhi_common.logs (JSON lines)
        debug=False,
    )
    # Around routing, unlike Litestar's middleware: every request is measured (unmatched ones
    # too), and a browser on another origin is sent to the public one whatever the path or
    # method support (reference 0.4).
    document_errors(app)
    document_security(app)
    public = settings.bodhi_public_url if settings.bodhi_canonical_redirect else None
    app.asgi_handler = metrics.middleware(canonical_middleware(public)(app.asgi_handler))
    return app
