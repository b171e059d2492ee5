"""A small server-rendered UI, so a plain browser works without BodhiApp's SPA: the registered
redirect URI (/ui/auth/callback) completes the login, /ui shows the app status and who is logged
in with their role, with log in / log out buttons and links to the API docs."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_303_SEE_OTHER

from bodhi_common.errors import ServiceError
from gateway.authn import Authenticator
from gateway.clients import Backends
from gateway.errors import ERROR_TYPE, HTTP_STATUS
from gateway.identity import AuthContext
from gateway.oauth import OAuthFlow
from gateway.rate_limits import RateLimits
from gateway.routes.auth import HOME, NO_STORE, end_session, finish_login
from gateway.schemas.identity import CallbackRequest
from gateway.sessions import SessionStore
from gateway.settings import GatewaySettings
from gateway.web import Web

_STYLE = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}"
# No script at all; forms may post here and (login) redirect on to the provider.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:"


def _page(
    title: str, body: str, status: int = 200, cookies: list[Any] | None = None
) -> Response[str]:
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<meta name=viewport content='width=device-width'><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    headers = {**NO_STORE, "Content-Security-Policy": _CSP}
    return Response(
        html, status_code=status, media_type=MediaType.HTML, headers=headers, cookies=cookies
    )


def _who(ctx: AuthContext) -> str:
    if not ctx.authenticated:
        return (
            "<p id=status>You are not logged in.</p>"
            "<form method=post action=/ui/login><button id=login>Log in</button></form>"
        )
    role = ctx.role.role() if ctx.role else "no role yet (ask a manager for access)"
    return (
        f"<p id=status>Logged in as <b id=username>{escape(ctx.username or '')}</b>,"
        f" role <b id=role>{escape(role)}</b>.</p>"
        "<form method=post action=/ui/logout><button id=logout>Log out</button></form>"
    )


@get("/ui", include_in_schema=False)
async def home(
    request: Request[Any, Any, Any],
    authenticator: NamedDependency[Authenticator],
    backends: NamedDependency[Backends],
) -> Response[str]:
    """App status, the current user and their role, and links."""
    info = await backends.auth.get_app_info()
    ctx = await authenticator.optional(request)
    body = (
        f"<p>Version {escape(info.version)}, status <b id=app-status>{escape(info.status)}</b>.</p>"
        f"{_who(ctx)}"
        "<p><a href=/swagger-ui>API documentation</a>"
        " · <a href=/api-docs/openapi.json>OpenAPI</a></p>"
    )
    return _page("Bodhi", body)


@post("/ui/login", include_in_schema=False)
async def login(
    request: Request[Any, Any, Any], oauth: NamedDependency[OAuthFlow], web: NamedDependency[Web]
) -> Response[None]:
    """Start a login and send the browser to the provider."""
    url, binding = await oauth.initiate(web.callback_url(request))
    headers = {**NO_STORE, "Location": url}
    cookies = [web.login(binding)]
    return Response(None, status_code=HTTP_303_SEE_OTHER, headers=headers, cookies=cookies)


@get("/ui/auth/callback", include_in_schema=False)
async def callback_page(
    request: Request[Any, Any, Any],
    oauth: NamedDependency[OAuthFlow],
    web: NamedDependency[Web],
    settings: NamedDependency[GatewaySettings],
    limits: NamedDependency[RateLimits],
) -> Response[Any]:
    """The registered redirect URI: complete the login, then go home (or explain the failure)."""
    query = request.query_params
    params = CallbackRequest(
        code=query.get("code"), state=query.get("state"), error=query.get("error"),
        error_description=query.get("error_description"), iss=query.get("iss"),
    )  # fmt: skip
    try:
        home_url, cookies = await finish_login(request, params, oauth, web, settings, limits)
    except ServiceError as exc:
        status = HTTP_STATUS.get(exc.status, 500)
        body = f"<p id=error>{escape(exc.message)} ({escape(exc.code)})</p><a href=/ui>Back</a>"
        title = ERROR_TYPE.get(status, "error").replace("_", " ").capitalize()
        return _page(title, body, status)
    # Not a redirect: a navigation that began at the provider stays "cross-site" through every
    # redirect, so the browser would withhold the new SameSite=Strict session cookie from /ui.
    # This page's own navigation to /ui starts here, same-origin, and carries it.
    target = escape(home_url)
    body = (
        f"<meta http-equiv=refresh content='0;url={target}'><p><a href='{target}'>Continue</a></p>"
    )
    return _page("Logged in", body, cookies=cookies)


@post("/ui/logout", include_in_schema=False)
async def logout_page(
    request: Request[Any, Any, Any],
    backends: NamedDependency[Backends],
    web: NamedDependency[Web],
    sessions: NamedDependency[SessionStore],
) -> Response[None]:
    """Log out and go home."""
    await end_session(request, backends, sessions, web)
    headers = {**NO_STORE, "Location": HOME}
    cookies = [web.expired(web.session_cookie)]
    return Response(None, status_code=HTTP_303_SEE_OTHER, headers=headers, cookies=cookies)


ROUTES: list[Any] = [home, login, callback_page, logout_page]
