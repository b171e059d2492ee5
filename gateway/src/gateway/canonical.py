"""Canonical URL (reference §0.4): when a public URL is configured, a browser that reaches the
gateway under another scheme, host or port is sent there with a 301. Only GET and HEAD move;
health checks, metrics and calls with an Authorization header (API tokens, scripts) never do.
The scheme is the ASGI scope's (uvicorn sets it from X-Forwarded-Proto only for trusted
proxies, so a client cannot choose it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from litestar.types import ASGIApp, Receive, Scope, Send

EXEMPT = frozenset({"/health", "/ping", "/ready", "/metrics"})
_DEFAULT_PORT = {"http": 80, "https": 443}


def target(public_url: str, scope: Any) -> str | None:
    """Where to send this request (an ASGI scope), or None to serve it here."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return None
    if scope["path"] in EXEMPT:
        return None
    headers = dict(scope["headers"])
    if b"authorization" in headers or b"host" not in headers:
        return None
    public = urlsplit(public_url)
    want = (public.scheme, public.hostname, public.port or _DEFAULT_PORT.get(public.scheme))
    if _origin(scope["scheme"], headers[b"host"].decode("latin-1")) == want:
        return None
    query: str = scope.get("query_string", b"").decode("latin-1")
    path: str = scope["path"]
    return public_url.rstrip("/") + path + (f"?{query}" if query else "")


def _origin(scheme: str, host: str) -> tuple[str, str | None, int | None] | None:
    name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not name:
        name, port = host, ""
    if port and not port.isdigit():
        return None  # not an origin we serve: redirect
    number = int(port) if port else _DEFAULT_PORT.get(scheme.lower())
    return scheme.lower(), name.strip("[]").lower(), number


def canonical_middleware(public_url: str | None) -> Callable[[ASGIApp], ASGIApp]:
    """The middleware factory (a no-op when no public URL is configured)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        if public_url is None:
            return app

        async def redirect(scope: Scope, receive: Receive, send: Send) -> None:
            location = target(public_url, scope)
            if location is None:
                await app(scope, receive, send)
                return
            headers = [(b"location", location.encode()), (b"content-length", b"0")]
            start: Any = {"type": "http.response.start", "status": 301, "headers": headers}
            await send(start)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        return redirect

    return middleware
