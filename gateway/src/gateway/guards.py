"""Route-group guards, exactly as reference §6.4/§6.6: a session is judged by its role, an API
token by its token scope, a third-party app's token by its user scope; session-only groups refuse
every bearer token. No credentials or no role: 401; too low: 403."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from bodhi_common.errors import PermissionDenied, Unauthenticated
from gateway.authn import Authenticator
from gateway.identity import AuthContext, Level


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """What a route group asks for."""

    level: Level
    tokens: bool  # API tokens and app tokens may call it (else: session only)


USER_API = Rule(level=Level.USER, tokens=True)
POWER_USER_API = Rule(level=Level.POWER_USER, tokens=True)
POWER_USER_SESSION = Rule(level=Level.POWER_USER, tokens=False)
MANAGER_SESSION = Rule(level=Level.MANAGER, tokens=False)
ADMIN_SESSION = Rule(level=Level.ADMIN, tokens=False)


def decide(ctx: AuthContext, rule: Rule) -> None:
    """Return when `ctx` may call a route of `rule`; otherwise raise 401 or 403."""
    if not ctx.authenticated:
        raise Unauthenticated("authentication required", code="invalid_access")
    have = {"session": ctx.role, "api_token": ctx.token_scope, "app_token": ctx.user_scope}[
        ctx.kind
    ]
    if ctx.kind != "session" and not rule.tokens:
        raise Unauthenticated("this endpoint needs a browser session", code="missing_auth")
    if have is None:
        raise Unauthenticated("you have no role on this server yet", code="missing_auth")
    if have < rule.level:
        raise PermissionDenied("insufficient privileges for this resource", code="forbidden")


class Guard:
    """A Litestar guard enforcing `rule` (which the OpenAPI document reads: openapi_security)."""

    __slots__ = ("rule",)

    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    async def __call__(
        self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        authenticator: Authenticator = connection.app.state.authenticator
        decide(await authenticator.context(connection), self.rule)
