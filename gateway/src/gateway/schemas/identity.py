"""HTTP bodies of login, the current user, API tokens, access requests, users and apps
(the reference API's shapes; token hashes never appear)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

RoleName = Literal["resource_user", "resource_power_user", "resource_manager", "resource_admin"]
TokenScopeName = Literal[
    "scope_token_user", "scope_token_power_user", "scope_token_manager", "scope_token_admin"
]


class Location(msgspec.Struct, frozen=True, kw_only=True):
    """Where the client should go next."""

    location: str


class CallbackRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The query parameters of the provider's redirect, posted by a UI (extra ones ignored)."""

    code: str | None = None
    state: str | None = None
    error: str | None = None
    error_description: str | None = None
    iss: str | None = None


class LoggedOut(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="auth_status", tag="logged_out"
):
    """No credentials."""


class LoggedIn(msgspec.Struct, frozen=True, kw_only=True, tag_field="auth_status", tag="logged_in"):
    """A browser session, or a third-party app's token for a user."""

    user_id: str
    username: str
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None


class ApiTokenUser(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="auth_status", tag="api_token"
):
    """An API token."""

    role: str


UserResponse = LoggedOut | LoggedIn | ApiTokenUser


class CreateTokenRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new API token."""

    name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    scope: TokenScopeName


class TokenCreated(msgspec.Struct, frozen=True, kw_only=True):
    """The new token, shown this once."""

    token: str


class UpdateTokenRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rename and/or (de)activate a token."""

    name: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    status: Literal["active", "inactive"] | None = None


class ApiTokenOut(msgspec.Struct, frozen=True, kw_only=True):
    """An API token as listed: its prefix, never its hash."""

    id: str
    user_id: str
    name: str
    token_prefix: str
    scopes: str
    status: str
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None = None


class TokenPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of API tokens."""

    data: list[ApiTokenOut]
    total: int
    page: int
    page_size: int


class AccessRequestOut(msgspec.Struct, frozen=True, kw_only=True):
    """An access request."""

    id: int
    username: str
    user_id: str
    reviewer: str | None
    status: str
    created_at: datetime
    updated_at: datetime


class RequestStatusOut(msgspec.Struct, frozen=True, kw_only=True):
    """The caller's latest access request."""

    username: str
    status: str
    created_at: datetime
    updated_at: datetime


class AccessRequestPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of access requests (the reference calls the list `requests`)."""

    requests: list[AccessRequestOut]
    total: int
    page: int
    page_size: int


class ApproveRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The role to grant."""

    role: RoleName


class UserInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A person and their role."""

    user_id: str
    username: str
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None


class UserPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of people (the reference's shape)."""

    client_id: str
    users: list[UserInfo]
    page: int
    page_size: int
    total_pages: int
    total_users: int
    has_next: bool
    has_previous: bool


class SetRoleRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new role."""

    role: RoleName


class AppAccessRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A third-party client asking for access."""

    app_client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class AppAccessResponse(msgspec.Struct, frozen=True, kw_only=True):
    """The scope the client requests from the provider for its users."""

    scope: str
