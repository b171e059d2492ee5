"""What the gateway needs to know about the browser side of a request: its public origin, the
same-origin rule for session writes, and the two cookies (session and login transaction)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from gateway.settings import GatewaySettings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "bodhiapp_session_id"
LOGIN_COOKIE = "bodhiapp_login"
CALLBACK_PATH = "/ui/auth/callback"
LOGIN_SECONDS = 600


class Web:
    """Origins and cookies, from the settings."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._public = settings.bodhi_public_url.rstrip("/") if settings.bodhi_public_url else None
        self._secure = self._public is not None and self._public.startswith("https://")
        # The __Host- prefix makes the browser insist on Secure, Path=/ and no Domain.
        prefix = "__Host-" if self._secure else ""
        self.session_cookie = prefix + SESSION_COOKIE
        self.login_cookie = prefix + LOGIN_COOKIE
        self._port = settings.bodhi_port

    def origin(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        """This server's origin as the client sees it."""
        if self._public is not None:
            return self._public
        return str(connection.base_url).rstrip("/")

    def callback_url(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        """The redirect URI for a login started by this request."""
        return self.origin(connection) + CALLBACK_PATH

    def redirect_uris(self, connection: ASGIConnection[Any, Any, Any, Any]) -> list[str]:
        """What setup registers: the public URL's callback, or the local ones plus this
        request's own origin."""
        if self._public is not None:
            return [self._public + CALLBACK_PATH]
        local = [
            f"http://{host}:{self._port}{CALLBACK_PATH}" for host in ("localhost", "127.0.0.1")
        ]
        own = self.callback_url(connection)
        return local if own in local else [*local, own]

    def same_origin(self, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
        """A browser request from our own pages (non-browser clients send neither header)."""
        site = connection.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return False
        origin = connection.headers.get("origin")
        return origin is None or origin == self.origin(connection)

    def session(self, value: str, max_age: int) -> Cookie:
        """The session cookie."""
        return Cookie(
            key=self.session_cookie, value=value, path="/", httponly=True, secure=self._secure,
            samesite="strict", max_age=max_age,
        )  # fmt: skip

    def login(self, value: str) -> Cookie:
        """The login transaction's cookie: Lax, so it survives the provider's top-level redirect
        back to us, while the session cookie stays Strict."""
        return Cookie(
            key=self.login_cookie, value=value, path="/", httponly=True, secure=self._secure,
            samesite="lax", max_age=LOGIN_SECONDS,
        )  # fmt: skip

    def expired(self, key: str) -> Cookie:
        """A cookie that deletes `key`."""
        return Cookie(key=key, value="", path="/", httponly=True, secure=self._secure, max_age=0)
