"""API tokens (reference §1.7, §3): power users and above, browser session only."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from gateway.bearer_cache import BearerCache
from gateway.clients import Backends
from gateway.guards import POWER_USER_SESSION, Guard
from gateway.identity import AuthContext, Level
from gateway.schemas.identity import (
    ApiTokenOut,
    CreateTokenRequest,
    TokenCreated,
    TokenPage,
    UpdateTokenRequest,
)

GUARDS = [Guard(POWER_USER_SESSION)]
Page = Annotated[int, Parameter(ge=1, le=1_000_000)]
PageSize = Annotated[int, Parameter(ge=1, le=100)]


@post("/bodhi/v1/tokens", tags=["tokens"], guards=GUARDS, status_code=HTTP_201_CREATED)
async def create_token(
    data: JSONBody[CreateTokenRequest],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> TokenCreated:
    """A new API token (scope at most your role), shown this once."""
    scope = Level.parse(data.scope, "scope_token_")
    return TokenCreated(token=await backends.auth.create_token(ctx, data.name, scope))


@get("/bodhi/v1/tokens", tags=["tokens"], guards=GUARDS)
async def list_tokens(
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    page: Page = 1,
    page_size: PageSize = 30,
) -> TokenPage:
    """Your tokens, newest first (their prefixes, never their hashes)."""
    return await backends.auth.list_tokens(ctx, page, page_size)


@put("/bodhi/v1/tokens/{token_id:str}", tags=["tokens"], guards=GUARDS)
async def update_token(
    token_id: FromPath[str],
    data: JSONBody[UpdateTokenRequest],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    bearer_cache: NamedDependency[BearerCache],
) -> ApiTokenOut:
    """Rename, deactivate or reactivate; a deactivated token stops working at once everywhere."""
    updated = await backends.auth.update_token(ctx, token_id, data.name, data.status)
    await bearer_cache.publish(f"token:{token_id}")
    return updated


@delete(
    "/bodhi/v1/tokens/{token_id:str}",
    tags=["tokens"],
    guards=GUARDS,
    status_code=HTTP_204_NO_CONTENT,
)
async def delete_token(
    token_id: FromPath[str],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    bearer_cache: NamedDependency[BearerCache],
) -> None:
    """Delete one of your tokens."""
    await backends.auth.delete_token(ctx, token_id)
    await bearer_cache.publish(f"token:{token_id}")


ROUTES: list[Any] = [create_token, list_tokens, update_token, delete_token]
