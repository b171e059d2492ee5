"""Liveness, readiness, app info and first-run setup."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from redis.asyncio import Redis

from gateway.clients import Backends
from gateway.schemas.system import AppInfo, Check, Message, Readiness, SetupRequest, SetupResponse
from gateway.settings import GatewaySettings
from gateway.web import Web

_PONG = Message(message="pong")


@get("/ping", tags=["system"], summary="Liveness check")
async def ping() -> Message:
    """Answers while the process runs."""
    return _PONG


@get("/health", tags=["system"], summary="Liveness check")
async def health() -> Message:
    """Answers while the process runs (it checks no dependency: see /ready)."""
    return _PONG


@get("/ready", tags=["system"], summary="Readiness: Redis and every service answer")
async def ready(
    backends: NamedDependency[Backends],
    redis: NamedDependency[Redis],
    settings: NamedDependency[GatewaySettings],
) -> Response[Readiness]:
    """200 when Redis and all four services answer their health checks, else 503 naming the
    ones that do not; each check has its own deadline, so a hung dependency cannot stall it."""
    timeout = settings.bodhi_ready_timeout_seconds
    names = ("redis", *Backends.NAMES)
    results = await asyncio.gather(
        _check_redis(redis, timeout), *(backends.health.check(n, timeout) for n in Backends.NAMES)
    )
    checks: dict[str, Check] = dict(zip(names, results, strict=True))
    down = [name for name, result in checks.items() if result != "ok"]
    body = Readiness(status="unavailable" if down else "ready", checks=checks, down=down)
    return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE if down else HTTP_200_OK)


async def _check_redis(redis: Redis, timeout: float) -> Check:
    try:
        await asyncio.wait_for(redis.ping(), timeout)
    except TimeoutError:
        return "timeout"
    except Exception:
        return "unavailable"
    return "ok"


@get("/bodhi/v1/info", tags=["system"], summary="App version and setup status")
async def info(backends: NamedDependency[Backends]) -> AppInfo:
    """`status` is `setup` on a new install, `resource-admin` after setup, then `ready`."""
    return await backends.auth.get_app_info()


@post("/bodhi/v1/setup", tags=["system"], summary="First-run setup", status_code=HTTP_200_OK)
async def setup(
    request: Request[Any, Any, Any],
    data: JSONBody[SetupRequest],
    backends: NamedDependency[Backends],
    web: NamedDependency[Web],
) -> SetupResponse:
    """Register this server with the identity provider (only while status is `setup`); the
    redirect URIs are this server's /ui/auth/callback at its public or local addresses."""
    uris = web.redirect_uris(request)
    return SetupResponse(status=await backends.auth.setup_app(data.name, data.description, uris))


ROUTES: list[Any] = [ping, health, ready, info, setup]
