"""API tokens: `bodhiapp_` + 43 url-safe characters (32 random bytes), shown once. Stored as a
17-character lookup prefix and the SHA-256 of the whole token (256 random bits cannot be
guessed offline, so no slow hash is needed); compared in constant time. A token works at the
lower of its scope and its owner's current role, and not at all once the owner has no role."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime

from auth_svc.domain import ApiToken, BearerPrincipal, Role, TokenStatus
from auth_svc.store import AuthStore
from auth_svc.token_store import TokenStore
from bodhi_common.clock import Clock
from bodhi_common.errors import InvalidArgument, PermissionDenied, Unauthenticated
from bodhi_common.tasks import cancel

log = logging.getLogger(__name__)

TOKEN_PREFIX = "bodhiapp_"  # noqa: S105 - the public marker every API token starts with
LOOKUP_LENGTH = 17  # "bodhiapp_" + 8
MAX_NAME_LENGTH = 100
_USAGE_FLUSH_SECONDS = 5.0


def digest(token: str) -> str:
    """Lower-case hex SHA-256 of the whole token."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokens:
    """Create, list, change and check API tokens."""

    def __init__(self, tokens: TokenStore, store: AuthStore, clock: Clock) -> None:
        self._tokens = tokens
        self._store = store
        self._clock = clock
        self._used: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def create(self, user_id: str, name: str, scope: Role) -> tuple[str, ApiToken]:
        """A new token for `user_id` at `scope` (at most the owner's role); (plaintext, row)."""
        if len(name) > MAX_NAME_LENGTH or not name.isprintable():
            raise InvalidArgument(
                f"a token name is at most {MAX_NAME_LENGTH} printable characters",
                code="invalid_token_name",
                param="name",
            )
        owner = await self._store.user(user_id)
        if owner.role is None or scope > owner.role:
            raise PermissionDenied(
                "a token's scope cannot exceed your role", code="privilege_escalation"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = await self._tokens.insert(
            user_id=user_id, name=name, prefix=token[:LOOKUP_LENGTH], digest=digest(token),
            scope=scope, at=self._now(),
        )  # fmt: skip
        return token, row

    async def list(self, user_id: str, limit: int, offset: int) -> tuple[list[ApiToken], int]:
        """The caller's tokens, newest first."""
        return await self._tokens.list(user_id, limit, offset)

    async def update(
        self, user_id: str, token_id: str, name: str | None, status: TokenStatus | None
    ) -> ApiToken:
        """Rename, deactivate or reactivate one of the caller's tokens."""
        if name is not None and (len(name) > MAX_NAME_LENGTH or not name.isprintable()):
            raise InvalidArgument("invalid token name", code="invalid_token_name", param="name")
        return await self._tokens.update(user_id, token_id, name, status, self._now())

    async def delete(self, user_id: str, token_id: str) -> None:
        """Delete one of the caller's tokens."""
        await self._tokens.delete(user_id, token_id)

    async def authenticate(self, token: str) -> BearerPrincipal:
        """The principal of a presented API token, or Unauthenticated."""
        if len(token) < LOOKUP_LENGTH:
            raise _invalid()
        stored = await self._tokens.by_prefix(token[:LOOKUP_LENGTH])
        if stored is None or not hmac.compare_digest(stored.token_hash, digest(token)):
            raise _invalid()
        if stored.token.status != TokenStatus.ACTIVE:
            raise Unauthenticated("the API token is inactive", code="token_inactive")
        if stored.owner_role is None:
            raise Unauthenticated("the token's owner has no access", code="token_owner_no_access")
        self._used.add(stored.token.id)
        return BearerPrincipal(
            kind="token",
            level=min(stored.token.scope, stored.owner_role),
            user_id=stored.token.user_id,
            username=stored.owner_username,
            token_id=stored.token.id,
        )

    async def __aenter__(self) -> ApiTokens:
        self._flusher = asyncio.create_task(self._record_usage())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await cancel(self._flusher)
        await self._flush()

    async def _record_usage(self) -> None:
        while True:
            await asyncio.sleep(_USAGE_FLUSH_SECONDS)
            try:
                await self._flush()
            except Exception:  # retried at the next flush; last_used_at is best effort
                log.warning("recording API token use failed", exc_info=True)

    async def _flush(self) -> None:
        used, self._used = self._used, set()
        if not used:
            return
        try:
            await self._tokens.touch(used, self._now())
        except BaseException:
            self._used |= used  # try again at the next flush
            raise


def _invalid() -> Unauthenticated:
    return Unauthenticated("the API token is not valid", code="token_invalid")
