"""The OpenAPI document says how each operation is authenticated, read from the route guards
themselves so it cannot drift from them: a guard whose rule admits tokens accepts the session
cookie or a bearer token, a session-only rule the cookie alone; an operation without a guard
declares nothing (public), unless its handler checks the caller itself and says so by hand
(`SESSION_ONLY`)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Components, Reference, SecurityRequirement, SecurityScheme
from litestar.routes import HTTPRoute

from gateway.guards import Guard, Rule

SESSION = "session"
BEARER = "bearer"
SESSION_ONLY: list[SecurityRequirement] = [{SESSION: []}]
SESSION_OR_TOKEN: list[SecurityRequirement] = [{SESSION: []}, {BEARER: []}]


def security_components(session_cookie: str) -> Components:
    """The two ways a caller is authenticated (gateway/authn.py); a bearer header wins."""
    schemes: dict[str, SecurityScheme | Reference] = {
        SESSION: SecurityScheme(
            type="apiKey",
            name=session_cookie,
            security_scheme_in="cookie",
            description="A browser session, set by the login callback.",
        ),
        BEARER: SecurityScheme(
            type="http",
            scheme="bearer",
            description="An API token (`bodhiapp_…`), or an OAuth access token the identity "
            "provider issued to a third-party app granted access to this server.",
        ),
    }
    return Components(security_schemes=schemes)


def _rule(guard: Any) -> Rule | None:
    """The rule a `gateway.guards.Guard` enforces (None for any other guard)."""
    return guard.rule if isinstance(guard, Guard) else None


def requirements(handler: HTTPRouteHandler) -> list[SecurityRequirement] | None:
    """The schemes `handler`'s guards accept, or None when it has no guard."""
    guards = handler.resolve_guards()
    if not guards:
        return None
    rules = [_rule(guard) for guard in guards]
    if None in rules:  # an unknown guard would leave the document guessing
        raise RuntimeError(f"{handler.handler_name}: a guard the OpenAPI document cannot read")
    return SESSION_OR_TOKEN if all(rule and rule.tokens for rule in rules) else SESSION_ONLY


def document_security(app: Litestar) -> None:
    """Give every guarded operation of the app's (cached) document its guard's schemes; call
    once every route is registered."""
    paths = app.openapi_schema.paths or {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or (item := paths.get(route.path_format)) is None:
            continue
        for handler in route.route_handlers:
            declared = requirements(handler)
            if declared is None or not handler.resolve_include_in_schema():
                continue
            if handler.resolve_security():  # two sources that could disagree
                raise RuntimeError(f"{handler.handler_name}: guarded, and security set by hand")
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                if operation is not None:
                    operation.security = list(declared)
