"""Domain ↔ protobuf for AuthService."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from auth_svc.domain import (
    AccessRequest,
    ApiToken,
    AppStatus,
    BearerPrincipal,
    RequestStatus,
    Role,
    TokenStatus,
    User,
)
from auth_svc.oidc import TokenSet
from bodhi.auth.v1 import auth_pb2 as pb
from bodhi_common.errors import InvalidArgument

APP_STATUS = {
    AppStatus.SETUP: pb.APP_STATUS_SETUP,
    AppStatus.RESOURCE_ADMIN: pb.APP_STATUS_RESOURCE_ADMIN,
    AppStatus.READY: pb.APP_STATUS_READY,
}
_TOKEN_STATUS = {
    TokenStatus.ACTIVE: pb.API_TOKEN_STATUS_ACTIVE,
    TokenStatus.INACTIVE: pb.API_TOKEN_STATUS_INACTIVE,
}
_REQUEST_STATUS = {
    RequestStatus.PENDING: pb.ACCESS_REQUEST_STATUS_PENDING,
    RequestStatus.APPROVED: pb.ACCESS_REQUEST_STATUS_APPROVED,
    RequestStatus.REJECTED: pb.ACCESS_REQUEST_STATUS_REJECTED,
}


def timestamp(value: datetime | float | None) -> timestamp_pb2.Timestamp | None:
    """A protobuf Timestamp (None stays unset)."""
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC))
    return stamp


def role_pb(role: Role | None) -> pb.Role.ValueType:
    """Role (or none) as the wire enum (same numbers)."""
    return pb.Role.ValueType(int(role)) if role is not None else pb.ROLE_UNSPECIFIED


def role_of(value: int, param: str = "role") -> Role:
    """The wire enum as a Role; unspecified or unknown is an error."""
    try:
        return Role(value)
    except ValueError:
        raise InvalidArgument("a role is required", code="invalid_role", param=param) from None


def token_status_of(value: int) -> TokenStatus:
    """Wire enum → TokenStatus."""
    for status, wire in _TOKEN_STATUS.items():
        if wire == value:
            return status
    raise InvalidArgument(
        "status must be active or inactive", code="invalid_status", param="status"
    )


def request_status_of(value: int) -> RequestStatus | None:
    """Wire enum → RequestStatus (unspecified = any)."""
    return next((s for s, wire in _REQUEST_STATUS.items() if wire == value), None)


def user_pb(user: User) -> pb.User:
    """A person on the wire."""
    return pb.User(
        user_id=user.user_id,
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
        role=role_pb(user.role),
    )


def api_token_pb(token: ApiToken) -> pb.ApiToken:
    """An API token on the wire (never its hash)."""
    return pb.ApiToken(
        id=token.id,
        user_id=token.user_id,
        name=token.name,
        token_prefix=token.token_prefix,
        scope=pb.TokenScope.ValueType(int(token.scope)),
        status=_TOKEN_STATUS[token.status],
        created_at=timestamp(token.created_at),
        updated_at=timestamp(token.updated_at),
        last_used_at=timestamp(token.last_used_at),
    )


def access_request_pb(request: AccessRequest) -> pb.AccessRequest:
    """An access request on the wire."""
    return pb.AccessRequest(
        id=request.id,
        username=request.username,
        user_id=request.user_id,
        reviewer=request.reviewer,
        status=_REQUEST_STATUS[request.status],
        created_at=timestamp(request.created_at),
        updated_at=timestamp(request.updated_at),
    )


def tokens_pb(tokens: TokenSet) -> pb.SessionTokens:
    """The provider's tokens, for the gateway's server-side session."""
    return pb.SessionTokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token or "",
        id_token=tokens.id_token or "",
        access_token_expires_at=timestamp(tokens.expires_at),
        refresh_token_expires_at=timestamp(tokens.refresh_expires_at),
    )


def principal_pb(principal: BearerPrincipal) -> pb.Principal:
    """A bearer principal on the wire."""
    kind = pb.SCOPE_KIND_TOKEN if principal.kind == "token" else pb.SCOPE_KIND_USER
    return pb.Principal(
        user_id=principal.user_id,
        username=principal.username,
        scope_kind=kind,
        scope_level=pb.TokenScope.ValueType(int(principal.level)),
        token_id=principal.token_id or "",
        app_client_id=principal.app_client_id or "",
    )
