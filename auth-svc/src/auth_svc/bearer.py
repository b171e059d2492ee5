"""Bearer tokens: our API tokens, or a third-party app's JWT access token for one of our users.

A third-party token is accepted when its signature verifies against the provider's keys, its
issuer is our provider, it has not expired, the client it was issued to (azp) was granted access
here (RequestAppAccess), and it carries at least one `scope_user_*` scope. It then acts at the
lower of that scope and the user's own role here; a user with no role gets nothing.
"""

from __future__ import annotations

from auth_svc.domain import BearerPrincipal, Role
from auth_svc.login import Login
from auth_svc.store import AuthStore
from auth_svc.tokens import TOKEN_PREFIX, ApiTokens
from bodhi_common.errors import NotFound, Unauthenticated

_USER_SCOPE = "scope_user_"


class Bearer:
    """Who a presented bearer token stands for."""

    def __init__(self, tokens: ApiTokens, login: Login, store: AuthStore) -> None:
        self._tokens = tokens
        self._login = login
        self._store = store

    async def authenticate(self, token: str) -> BearerPrincipal:
        """The principal, or Unauthenticated with a stable code."""
        if not token or len(token) > 8192:
            raise Unauthenticated("the bearer token is not valid", code="token_invalid")
        if token.startswith(TOKEN_PREFIX):
            return await self._tokens.authenticate(token)
        return await self._app_token(token)

    async def _app_token(self, token: str) -> BearerPrincipal:
        if not self._login.has_provider:  # then no app token can be valid here
            raise Unauthenticated("the bearer token is not valid", code="token_invalid")
        claims = await self._login.provider.verify_access_token(token)
        if not await self._store.app_granted(claims.client_id):
            raise Unauthenticated(
                "the app this token was issued to has no access here", code="app_not_granted"
            )
        levels = [_level(scope) for scope in claims.scopes if scope.startswith(_USER_SCOPE)]
        granted = [level for level in levels if level is not None]
        if not granted:
            raise Unauthenticated(
                "the token grants no scope_user_* scope on this server", code="scope_empty"
            )
        try:
            user = await self._store.user(claims.subject)
        except NotFound:
            raise Unauthenticated(
                "the token's user is not known here", code="user_unknown"
            ) from None
        if user.role is None:
            raise Unauthenticated("the token's user has no access here", code="user_no_access")
        return BearerPrincipal(
            kind="user",
            level=min(max(granted), user.role),
            user_id=user.user_id,
            username=user.username,
            app_client_id=claims.client_id,
            expires_at=claims.expires_at,
        )


def _level(scope: str) -> Role | None:
    return Role.__members__.get(scope.removeprefix(_USER_SCOPE).upper())
