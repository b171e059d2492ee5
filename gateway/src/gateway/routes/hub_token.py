"""The Hugging Face Hub token model-svc sends for gated repos: admins store or remove it (it is
kept in secret-svc and never shown again); HF_TOKEN in model-svc's environment takes precedence."""

from __future__ import annotations

from typing import Any

from litestar import delete, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from gateway.clients import Backends
from gateway.guards import ADMIN_SESSION, Guard
from gateway.identity import AuthContext
from gateway.schemas.models import HubTokenBody, HubTokenOut

ADMIN = [Guard(ADMIN_SESSION)]
PATH = "/bodhi/v1/hub-token"


@get(PATH, tags=["models"], guards=ADMIN)
async def hub_token(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> HubTokenOut:
    """Where the token downloads send comes from (never the token)."""
    return await backends.model.hub_token(ctx)


@put(PATH, tags=["models"], guards=ADMIN)
async def store_hub_token(
    data: JSONBody[HubTokenBody],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> HubTokenOut:
    """Store a Hub token (replacing the stored one)."""
    return await backends.model.store_hub_token(ctx, data.token)


@delete(PATH, tags=["models"], guards=ADMIN, status_code=HTTP_200_OK)
async def remove_hub_token(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> HubTokenOut:
    """Remove the stored Hub token."""
    return await backends.model.remove_hub_token(ctx)


ROUTES: list[Any] = [hub_token, store_hub_token, remove_hub_token]
