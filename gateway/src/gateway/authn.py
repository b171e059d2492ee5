"""Authentication of every request (reference §6.2/§6.3): a bearer header wins (API token or a
third-party app's token, checked by auth-svc, cached here); otherwise the session cookie. Session
writes must come from our own origin. An expired access token is refreshed once for all the
session's concurrent requests (a Redis lock); a failed refresh ends the session with a 401.
Identity never comes from request headers."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from litestar.connection import ASGIConnection
from redis.asyncio import Redis

from bodhi_common.clock import Clock
from bodhi_common.errors import (
    DeadlineExceeded,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from gateway.bearer_cache import BearerCache, token_digest
from gateway.clients.auth import AuthClient
from gateway.identity import ANONYMOUS, AuthContext, Level
from gateway.pause import Pause
from gateway.rate_limits import RateLimited, RateLimits, client_address
from gateway.sessions import Session, SessionStore
from gateway.web import SAFE_METHODS, Web

log = logging.getLogger(__name__)
Connection = ASGIConnection[Any, Any, Any, Any]
_REFRESH_EARLY = 5.0  # refresh this long before the access token expires
_AUTH_DOWN_PAUSE = 5.0  # after auth-svc failed, recently verified tokens do not wait on it
_LOCK = "bodhi:refresh-lock:"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class Authenticator:
    """Turns a request into an AuthContext (cached on the connection's state)."""

    def __init__(
        self, auth: AuthClient, sessions: SessionStore, cache: BearerCache, limits: RateLimits,
        redis: Redis, web: Web, clock: Clock,
    ) -> None:  # fmt: skip
        self._auth = auth
        self._sessions = sessions
        self._cache = cache
        self._limits = limits
        self._redis = redis
        self._web = web
        self._clock = clock
        self._auth_down = Pause(clock, _AUTH_DOWN_PAUSE)  # stale bearer entries skip auth-svc

    async def context(self, connection: Connection) -> AuthContext:
        """The caller, or an error (401 bad credentials, 403 cross-site, 503 no session store)."""
        cached: AuthContext | None = connection.state.get("auth")
        if cached is None:
            cached = await self._resolve(connection)
            connection.state["auth"] = cached
        return cached

    async def optional(self, connection: Connection) -> AuthContext:
        """The caller, or anonymous when the credentials are not good (never when the session
        store is down: that stays a 503)."""
        try:
            return await self.context(connection)
        except (Unauthenticated, PermissionDenied, ResourceExhausted):
            return ANONYMOUS

    async def _resolve(self, connection: Connection) -> AuthContext:
        header = connection.headers.get("authorization")
        if header is not None:
            return await self._bearer(header, client_address(connection))
        session_id = connection.cookies.get(self._web.session_cookie)
        if not session_id:
            return ANONYMOUS
        if connection.scope.get("method", "GET") not in SAFE_METHODS and not self._web.same_origin(
            connection
        ):
            raise PermissionDenied("cross-site requests are refused", code="cross_site_request")
        return await self._session(session_id)

    async def _bearer(self, header: str, client: str) -> AuthContext:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the authorization header is malformed", code="token_invalid")
        digest = token_digest(token)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        if self._auth_down.active:
            stale = self._cache.stale(digest)  # auth-svc just failed: do not wait on it again
            if stale is not None:
                return stale
        wait = await self._limits.bearer_blocked(client, digest)
        if wait:
            raise RateLimited(self._limits.invalid_bearer, wait)
        try:
            ctx, expires_at = await self._auth.authenticate_bearer(token, client)
        except Unauthenticated:
            await self._limits.failed(self._limits.invalid_bearer, client)
            raise
        except (Unavailable, DeadlineExceeded):
            self._auth_down.start()
            stale = self._cache.stale(digest)
            if stale is None:
                raise
            log.warning("auth-svc unreachable: a recently verified bearer token is accepted")
            return stale
        self._cache.put(digest, ctx, expires_at)
        await self._limits.bearer_worked(digest)
        return ctx

    async def _session(self, session_id: str) -> AuthContext:
        session = await self._sessions.get(session_id)
        if session is None:
            return ANONYMOUS
        if session.access_expires_at - self._clock.now() < _REFRESH_EARLY:
            session = await self._refresh(session_id, session)
        role = Level.parse(session.role, "resource_") if session.role else None
        return AuthContext(
            kind="session", user_id=session.user_id, username=session.username,
            first_name=session.first_name, last_name=session.last_name, role=role,
            session_id=session_id,
        )  # fmt: skip

    async def _refresh(self, session_id: str, session: Session) -> Session:
        """Refresh once for every concurrent request of this session (and every instance)."""
        owner = secrets.token_hex(8)
        if await self._redis.set(_LOCK + session_id, owner, nx=True, px=10_000):
            try:
                return await self._refresh_now(session_id, session)
            finally:
                await self._redis.eval(_RELEASE, 1, _LOCK + session_id, owner)
        return await self._wait_for_refresh(session_id, session.access_expires_at)

    async def _refresh_now(self, session_id: str, session: Session) -> Session:
        try:
            tokens = await self._auth.refresh_tokens(session.refresh_token)
        except Unauthenticated:
            await self._sessions.delete(session_id)
            raise _expired() from None
        session.access_token = tokens.access_token
        session.refresh_token = tokens.refresh_token or session.refresh_token
        session.access_expires_at = tokens.access_expires_at
        await self._sessions.save(session_id, session)
        log.info("session tokens refreshed", extra={"user_id": session.user_id})
        return session

    async def _wait_for_refresh(self, session_id: str, stale: float) -> Session:
        for _ in range(200):  # at most 10 s, the lock's own lifetime
            await asyncio.sleep(0.05)
            current = await self._sessions.get(session_id)
            if current is None:
                raise _expired()
            if current.access_expires_at != stale:
                return current
            if not await self._redis.exists(_LOCK + session_id):
                break  # the refresher gave up (provider or auth-svc down)
        raise Unavailable(
            "the session could not be refreshed; try again", code="refresh_unavailable"
        )


def _expired() -> Unauthenticated:
    return Unauthenticated("your session has expired; log in again", code="session_expired")
