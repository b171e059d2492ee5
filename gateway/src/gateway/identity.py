"""Who is calling: the one AuthContext every guard and handler reads (never a header)."""

from __future__ import annotations

import enum
from typing import Literal

import msgspec

from bodhi_common.context import Principal


class Level(enum.IntEnum):
    """The four privilege levels; roles, token scopes and user scopes share them (reference
    §6.5), numbered as in the auth contract's Role and TokenScope enums."""

    USER = 1
    POWER_USER = 2
    MANAGER = 3
    ADMIN = 4

    def role(self) -> str:
        """resource_<level>."""
        return f"resource_{self.name.lower()}"

    def token_scope(self) -> str:
        """scope_token_<level>."""
        return f"scope_token_{self.name.lower()}"

    def user_scope(self) -> str:
        """scope_user_<level>."""
        return f"scope_user_{self.name.lower()}"

    @classmethod
    def parse(cls, value: str, prefix: str) -> Level:
        """`resource_manager` with prefix `resource_` → MANAGER (ValueError otherwise)."""
        if not value.startswith(prefix):
            raise ValueError(value)
        return cls[value.removeprefix(prefix).upper()]


Kind = Literal["anonymous", "session", "api_token", "app_token"]


class AuthContext(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller of one request."""

    kind: Kind = "anonymous"
    user_id: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    role: Level | None = None  # session: the person's role here
    token_scope: Level | None = None  # api_token
    user_scope: Level | None = None  # app_token: a third-party app acting for a user
    session_id: str | None = None
    token_id: str | None = None
    app_client_id: str | None = None

    @property
    def authenticated(self) -> bool:
        """Any credential was accepted."""
        return self.kind != "anonymous"

    def principal(self) -> Principal | None:
        """The principal internal calls carry for this caller."""
        if self.user_id is None:
            return None
        scope = None
        if self.token_scope is not None:
            scope = self.token_scope.token_scope()
        elif self.user_scope is not None:
            scope = self.user_scope.user_scope()
        role = self.role.role() if self.role is not None else None
        return Principal(sub=self.user_id, role=role, scope=scope)


ANONYMOUS = AuthContext()
