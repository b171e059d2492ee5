"""Access requests, users and third-party apps (reference §1.9, §5, §3.5)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from gateway.bearer_cache import BearerCache
from gateway.clients import Backends
from gateway.guards import MANAGER_SESSION, Guard
from gateway.identity import AuthContext, Level
from gateway.routes.tokens import Page, PageSize
from gateway.schemas.identity import (
    AccessRequestOut,
    AccessRequestPage,
    AppAccessRequest,
    AppAccessResponse,
    ApproveRequest,
    SetRoleRequest,
    UserInfo,
    UserPage,
)
from gateway.schemas.models import INT64_MAX
from gateway.sessions import SessionStore

GUARDS = [Guard(MANAGER_SESSION)]
# A request id as auth-svc stores it (int64): a larger one is a 400, not a call that cannot be
# encoded (schemathesis found that 500).
RequestId = Annotated[int, Parameter(ge=1, le=INT64_MAX)]


async def _sign_out(user_id: str, sessions: SessionStore, cache: BearerCache) -> None:
    """A person's role changed: end their sessions and forget their cached tokens everywhere, so
    the change applies at once."""
    await sessions.delete_user(user_id)
    await cache.publish(f"user:{user_id}")


@get("/bodhi/v1/access-requests/pending", tags=["access"], guards=GUARDS)
async def pending_requests(
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    page: Page = 1,
    page_size: PageSize = 30,
) -> AccessRequestPage:
    """Pending requests, oldest first."""
    return await backends.auth.list_requests(ctx, True, page, page_size)


@get("/bodhi/v1/access-requests", tags=["access"], guards=GUARDS)
async def all_requests(
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    page: Page = 1,
    page_size: PageSize = 30,
) -> AccessRequestPage:
    """Every request, newest first."""
    return await backends.auth.list_requests(ctx, False, page, page_size)


@post(
    "/bodhi/v1/access-requests/{request_id:int}/approve",
    tags=["access"],
    guards=GUARDS,
    status_code=200,
)
async def approve(
    request_id: RequestId,
    data: JSONBody[ApproveRequest],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    sessions: NamedDependency[SessionStore],
    bearer_cache: NamedDependency[BearerCache],
) -> AccessRequestOut:
    """Grant a role at most your own; the person's sessions end so it applies at once."""
    decided = await backends.auth.approve(ctx, request_id, Level.parse(data.role, "resource_"))
    await _sign_out(decided.user_id, sessions, bearer_cache)
    return decided


@post(
    "/bodhi/v1/access-requests/{request_id:int}/reject",
    tags=["access"],
    guards=GUARDS,
    status_code=200,
)
async def reject(
    request_id: RequestId,
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> AccessRequestOut:
    """Close a request without a role (404 for an unknown id)."""
    return await backends.auth.reject(ctx, request_id)


@get("/bodhi/v1/users", tags=["users"], guards=GUARDS)
async def list_users(
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    page: Page = 1,
    page_size: PageSize = 30,
) -> UserPage:
    """People and their roles."""
    return await backends.auth.list_users(ctx, page, page_size)


@put("/bodhi/v1/users/{user_id:str}/role", tags=["users"], guards=GUARDS)
async def set_role(
    user_id: FromPath[str],
    data: JSONBody[SetRoleRequest],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    sessions: NamedDependency[SessionStore],
    bearer_cache: NamedDependency[BearerCache],
) -> UserInfo:
    """Change a role (at most your own; never the last admin's)."""
    user = await backends.auth.set_role(ctx, user_id, Level.parse(data.role, "resource_"))
    await _sign_out(user_id, sessions, bearer_cache)
    return user


@delete("/bodhi/v1/users/{user_id:str}", tags=["users"], guards=GUARDS, status_code=200)
async def remove_user(
    user_id: FromPath[str],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    sessions: NamedDependency[SessionStore],
    bearer_cache: NamedDependency[BearerCache],
) -> None:
    """Take away a person's access (admins only); their sessions and tokens stop at once."""
    await backends.auth.remove_user(ctx, user_id)
    await _sign_out(user_id, sessions, bearer_cache)


@post("/bodhi/v1/apps/request-access", tags=["apps"], status_code=200)
async def request_app_access(
    data: JSONBody[AppAccessRequest], backends: NamedDependency[Backends]
) -> AppAccessResponse:
    """Let a third-party OAuth client call this server with its users' tokens."""
    return AppAccessResponse(scope=await backends.auth.request_app_access(data.app_client_id))


ROUTES: list[Any] = [
    pending_requests, all_requests, approve, reject, list_users, set_role, remove_user,
    request_app_access,
]  # fmt: skip
