"""auth-svc domain types: the app's status, roles and scopes (ordered: higher includes lower),
users, API tokens, access requests and the principal a bearer token stands for."""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec


class AppStatus(enum.StrEnum):
    """Setup status of this installation (the reference's serialised values)."""

    SETUP = "setup"
    RESOURCE_ADMIN = "resource-admin"
    READY = "ready"


class Role(enum.IntEnum):
    """A person's role here; the order is the privilege order."""

    USER = 1
    POWER_USER = 2
    MANAGER = 3
    ADMIN = 4

    @property
    def wire(self) -> str:
        """The reference's name, e.g. resource_power_user."""
        return f"resource_{self.name.lower()}"

    @classmethod
    def parse(cls, value: str | None) -> Role | None:
        """The role named `value` (resource_* form), or None."""
        if value is None or not value.startswith("resource_"):
            return None
        return cls.__members__.get(value.removeprefix("resource_").upper())


class TokenStatus(enum.StrEnum):
    """Whether an API token works."""

    ACTIVE = "active"
    INACTIVE = "inactive"


class RequestStatus(enum.StrEnum):
    """State of an access request."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A person known from a login at the identity provider."""

    user_id: str
    username: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    role: Role | None = None


class ApiToken(msgspec.Struct, frozen=True, kw_only=True):
    """An API token as listed (never its hash)."""

    id: str
    user_id: str
    name: str
    token_prefix: str
    scope: Role  # scope_token_<level>: the same four levels as roles
    status: TokenStatus
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None = None


class AccessRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A person's request for a role."""

    id: int
    user_id: str
    username: str
    status: RequestStatus
    reviewer: str | None
    created_at: datetime
    updated_at: datetime


class BearerPrincipal(msgspec.Struct, frozen=True, kw_only=True):
    """Who a bearer token stands for: an API token (scope kind token) or a third-party app's
    token for a user (scope kind user); the level is already capped by the owner's role."""

    kind: str  # "token" or "user"
    level: Role
    user_id: str
    username: str
    token_id: str | None = None
    app_client_id: str | None = None
    expires_at: float | None = None  # None: until revoked (API tokens)
