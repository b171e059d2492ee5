"""The browser leg of login (BFF): state, nonce and PKCE verifier are made here and kept in a
one-shot Redis transaction bound to the browser by a short-lived SameSite=Lax cookie; the
callback checks state, the binding, RFC 9207 `iss`, then lets auth-svc exchange the code. A new
session id is issued at login and any session the browser brought is ended (no fixation).
Tokens stay server-side."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

import msgspec
from redis.asyncio import Redis

from bodhi_common.clock import Clock
from bodhi_common.errors import InvalidArgument, Unavailable
from gateway.clients.auth import AuthClient, LoginDone
from gateway.redis_down import REDIS_DOWN
from gateway.schemas.identity import CallbackRequest
from gateway.sessions import Session, SessionStore
from gateway.web import LOGIN_SECONDS

_PREFIX = "bodhi:login:"
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


class Transaction(msgspec.Struct, frozen=True, kw_only=True):
    """One login in progress."""

    nonce: str
    verifier: str
    redirect_uri: str
    issuer: str
    iss_supported: bool
    binding: str  # SHA-256 of the login cookie's value


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Transaction).decode


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class OAuthFlow:
    """initiate → the provider → callback."""

    def __init__(
        self, auth: AuthClient, sessions: SessionStore, redis: Redis, clock: Clock
    ) -> None:
        self._auth = auth
        self._sessions = sessions
        self._redis = redis
        self._clock = clock

    async def initiate(self, redirect_uri: str) -> tuple[str, str]:
        """(authorization URL, value of the login cookie to set)."""
        state, nonce, binding = (secrets.token_urlsafe(32) for _ in range(3))
        verifier = secrets.token_urlsafe(64)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        start = await self._auth.begin_login(
            redirect_uri=redirect_uri, state=state, nonce=nonce,
            code_challenge=challenge.decode().rstrip("="),
        )  # fmt: skip
        transaction = Transaction(
            nonce=nonce, verifier=verifier, redirect_uri=redirect_uri, issuer=start.issuer,
            iss_supported=start.iss_supported, binding=_sha256(binding),
        )  # fmt: skip
        try:
            await self._redis.set(_PREFIX + state, _encode(transaction), ex=LOGIN_SECONDS)
        except REDIS_DOWN:
            raise _store_down() from None
        return start.url, binding

    async def complete(
        self, params: CallbackRequest, binding: str | None, old_session: str | None
    ) -> tuple[str, Session, LoginDone]:
        """Check the callback and log in: (new session id, session, login)."""
        if params.error:
            raise InvalidArgument(_provider_error(params), code="oauth_error")
        if not params.state:
            raise InvalidArgument("the callback has no state", code="state_missing")
        transaction = await self._take(params.state)
        if (
            transaction is None
            or not binding
            or not hmac.compare_digest(transaction.binding, _sha256(binding))
        ):
            raise InvalidArgument(
                "this login is unknown, expired or already used; start again", code="state_invalid"
            )
        _check_issuer(transaction, params.iss)
        if not params.code:
            raise InvalidArgument("the callback has no code", code="code_missing")
        done = await self._auth.complete_login(
            code=params.code, code_verifier=transaction.verifier, nonce=transaction.nonce,
            redirect_uri=transaction.redirect_uri,
        )  # fmt: skip
        if old_session:
            await self._sessions.delete(old_session)
        session = self._session(done)
        return await self._sessions.create(session), session, done

    async def _take(self, state: str) -> Transaction | None:
        try:
            raw = await self._redis.getdel(_PREFIX + state)  # one-shot: a replay finds nothing
        except REDIS_DOWN:
            raise _store_down() from None
        return None if raw is None else _decode(raw)

    def _session(self, done: LoginDone) -> Session:
        now = self._clock.now()
        return Session(
            user_id=done.user.user_id, username=done.user.username,
            first_name=done.user.first_name, last_name=done.user.last_name, role=done.user.role,
            access_token=done.tokens.access_token, refresh_token=done.tokens.refresh_token,
            access_expires_at=done.tokens.access_expires_at, created_at=now, last_seen_at=now,
        )  # fmt: skip


def _check_issuer(transaction: Transaction, iss: str | None) -> None:
    """RFC 9207: the response must name the issuer we sent the browser to (mix-up defence)."""
    if iss is None and transaction.iss_supported:
        raise InvalidArgument("the callback does not name its issuer", code="issuer_missing")
    if iss is not None and iss != transaction.issuer:
        raise InvalidArgument("the callback comes from another issuer", code="issuer_mismatch")


def _provider_error(params: CallbackRequest) -> str:
    """The provider's error, only as far as it is a plain OAuth error code."""
    code = params.error or ""
    code = code if _ERROR_CODE.fullmatch(code) else "unknown_error"
    return f"the identity provider refused the login: {code}"


def _store_down() -> Unavailable:
    return Unavailable(
        "the session store is unavailable, try again shortly", code="session_store_unavailable"
    )
