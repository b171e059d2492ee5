"""Login, logout and the current user (reference §1.2, §2)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from bodhi_common.errors import ServiceError, Unauthenticated
from gateway.authn import Authenticator
from gateway.clients import Backends
from gateway.errors import status_of
from gateway.identity import AuthContext
from gateway.oauth import OAuthFlow
from gateway.openapi_security import SESSION_ONLY
from gateway.rate_limits import RateLimits, client_address
from gateway.schemas.identity import (
    ApiTokenUser,
    CallbackRequest,
    Location,
    LoggedIn,
    LoggedOut,
    RequestStatusOut,
    UserResponse,
)
from gateway.sessions import SessionStore
from gateway.settings import GatewaySettings
from gateway.web import Web

log = logging.getLogger(__name__)

# Auth responses are never cached, and never leak the callback URL (code, state) onward.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}
HOME = "/ui"


@post(
    "/bodhi/v1/auth/initiate", tags=["auth"], summary="Start a login", status_code=HTTP_201_CREATED,
    responses={HTTP_200_OK: ResponseSpec(Location, description="Already logged in: the home page")},
)  # fmt: skip
async def initiate(
    request: Request[Any, Any, Any],
    authenticator: NamedDependency[Authenticator],
    oauth: NamedDependency[OAuthFlow],
    web: NamedDependency[Web],
) -> Response[Location]:
    """201 with the provider's authorization URL, or 200 with the home page when the caller is
    already authenticated."""
    if (await authenticator.optional(request)).authenticated:
        home = Location(location=web.origin(request) + HOME)
        return Response(home, status_code=HTTP_200_OK, headers=NO_STORE)
    url, binding = await oauth.initiate(web.callback_url(request))
    return Response(
        Location(location=url), status_code=HTTP_201_CREATED, headers=NO_STORE,
        cookies=[web.login(binding)],
    )  # fmt: skip


async def finish_login(
    request: Request[Any, Any, Any], params: CallbackRequest, oauth: OAuthFlow, web: Web,
    settings: GatewaySettings, limits: RateLimits,
) -> tuple[str, list[Any]]:  # fmt: skip
    """Complete a callback (POST or the GET page): the home URL and the cookies to set. A client
    whose callbacks keep failing (forged codes or states) is refused for a while, before the
    provider is asked."""
    client = client_address(request)
    await limits.refuse_if_over(limits.failed_login, client)
    try:
        session_id, _, _ = await oauth.complete(
            params,
            request.cookies.get(web.login_cookie),
            request.cookies.get(web.session_cookie),
        )
    except ServiceError as exc:
        if status_of(exc) < 500:
            await limits.failed(limits.failed_login, client)
        raise
    max_age = int(settings.bodhi_session_absolute_seconds)
    cookies = [web.session(session_id, max_age), web.expired(web.login_cookie)]
    return web.origin(request) + HOME, cookies


@post("/bodhi/v1/auth/callback", tags=["auth"], summary="Finish a login", status_code=HTTP_200_OK)
async def callback(
    request: Request[Any, Any, Any],
    data: JSONBody[CallbackRequest],
    oauth: NamedDependency[OAuthFlow],
    web: NamedDependency[Web],
    settings: NamedDependency[GatewaySettings],
    limits: NamedDependency[RateLimits],
) -> Response[Location]:
    """The provider's redirect parameters, posted by a UI: starts the session."""
    home, cookies = await finish_login(request, data, oauth, web, settings, limits)
    return Response(Location(location=home), headers=NO_STORE, cookies=cookies)


async def end_session(
    request: Request[Any, Any, Any], backends: Backends, sessions: SessionStore, web: Web
) -> None:
    """End the browser's session here and revoke its refresh token at the provider."""
    session_id = request.cookies.get(web.session_cookie)
    session = await sessions.get(session_id) if session_id else None
    if session_id and session is not None:
        await sessions.delete(session_id)
        try:
            await backends.auth.logout(session.refresh_token, web.origin(request) + HOME)
        except ServiceError as exc:  # the session is gone either way
            log.warning("refresh token revocation failed", extra={"code": exc.code})


@post("/bodhi/v1/logout", tags=["auth"], summary="Log out", status_code=HTTP_200_OK)
async def logout(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    sessions: NamedDependency[SessionStore],
    web: NamedDependency[Web],
) -> Response[Location]:
    """End the session and revoke its refresh token at the provider."""
    await end_session(request, backends, sessions, web)
    home = Location(location=web.origin(request) + HOME)
    return Response(home, headers=NO_STORE, cookies=[web.expired(web.session_cookie)])


@get("/bodhi/v1/user", tags=["auth"], summary="Who am I")
async def current_user(
    request: Request[Any, Any, Any], authenticator: NamedDependency[Authenticator]
) -> UserResponse:
    """logged_out, logged_in (with role) or api_token (with scope)."""
    ctx = await authenticator.optional(request)
    if ctx.kind == "api_token" and ctx.token_scope is not None:
        return ApiTokenUser(role=ctx.token_scope.token_scope())
    if ctx.user_id is None or ctx.username is None:
        return LoggedOut()
    role = (
        ctx.role.role() if ctx.role else (ctx.user_scope.user_scope() if ctx.user_scope else None)
    )
    return LoggedIn(
        user_id=ctx.user_id, username=ctx.username, first_name=ctx.first_name,
        last_name=ctx.last_name, role=role,
    )  # fmt: skip


def session_user(ctx: AuthContext) -> AuthContext:
    """The caller's browser session (with or without a role), or 401."""
    if ctx.kind != "session":
        raise Unauthenticated("this needs a logged-in browser session", code="session_required")
    return ctx


@post(
    "/bodhi/v1/user/request-access",
    tags=["access"],
    summary="Ask for a role",
    status_code=HTTP_201_CREATED,
    security=SESSION_ONLY,  # no guard: session_user() below is the check
)
async def request_access(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> None:
    """201; 409 when one is pending; 422 when the caller already has a role."""
    await backends.auth.request_access(session_user(ctx))


@get(
    "/bodhi/v1/user/request-status",
    tags=["access"],
    summary="My latest access request",
    security=SESSION_ONLY,  # no guard: session_user() below is the check
)
async def request_status(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> RequestStatusOut:
    """Pending, approved or rejected; 404 when the caller never asked."""
    return await backends.auth.access_status(session_user(ctx))


ROUTES: list[Any] = [initiate, callback, logout, current_user, request_access, request_status]
