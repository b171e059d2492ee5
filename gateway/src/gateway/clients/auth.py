"""Calls to auth-svc: one small function per RPC, protobuf in here only."""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any

import grpc
import msgspec

from bodhi.auth.v1 import auth_pb2 as pb
from bodhi.auth.v1 import auth_pb2_grpc
from bodhi.common.v1 import common_pb2
from bodhi_common.downstream import call
from bodhi_common.internal_auth import InternalAuth
from gateway.identity import AuthContext, Level
from gateway.schemas.identity import (
    AccessRequestOut,
    AccessRequestPage,
    ApiTokenOut,
    RequestStatusOut,
    TokenPage,
    UserInfo,
    UserPage,
)
from gateway.schemas.system import AppInfo, AppStatus

_APP_STATUS: dict[int, AppStatus] = {
    pb.APP_STATUS_SETUP: "setup",
    pb.APP_STATUS_RESOURCE_ADMIN: "resource-admin",
    pb.APP_STATUS_READY: "ready",
}
_REQUEST_STATUS = {1: "pending", 2: "approved", 3: "rejected"}


class LoginStart(msgspec.Struct, frozen=True, kw_only=True):
    """Where to send the browser, and what the provider's redirect back must carry."""

    url: str
    issuer: str
    iss_supported: bool


class Tokens(msgspec.Struct, frozen=True, kw_only=True):
    """The provider's tokens for a session (kept server-side)."""

    access_token: str
    refresh_token: str
    access_expires_at: float


class LoginDone(msgspec.Struct, frozen=True, kw_only=True):
    """A verified login."""

    user: UserInfo
    tokens: Tokens
    became_admin: bool


class AuthClient:
    """auth-svc over one channel; calls carry the acting person as the internal principal."""

    def __init__(self, channel: grpc.aio.Channel, internal: InternalAuth, timeout: float) -> None:
        self._stub = auth_pb2_grpc.AuthServiceStub(channel)
        self._internal = internal
        self._timeout = timeout

    async def _rpc(self, name: str, request: Any, ctx: AuthContext | None = None) -> Any:
        principal = ctx.principal() if ctx is not None else None
        method = getattr(self._stub, name)
        metadata = self._internal.metadata("auth", principal)
        return await call("auth", method(request, metadata=metadata, timeout=self._timeout))

    async def get_app_info(self) -> AppInfo:
        """Version and setup status of this installation."""
        reply = await self._rpc("GetAppInfo", pb.GetAppInfoRequest())
        return AppInfo(version=reply.version, status=_APP_STATUS.get(reply.status, "setup"))

    async def setup_app(self, name: str, description: str, redirect_uris: list[str]) -> AppStatus:
        """Register this installation with the identity provider."""
        request = pb.SetupAppRequest(
            name=name, description=description, redirect_uris=redirect_uris
        )
        reply = await self._rpc("SetupApp", request)
        return _APP_STATUS.get(reply.status, "setup")

    async def begin_login(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> LoginStart:
        """The authorization URL of a new login."""
        request = pb.BeginLoginRequest(
            redirect_uri=redirect_uri, state=state, nonce=nonce, code_challenge=code_challenge
        )
        reply = await self._rpc("BeginLogin", request)
        return LoginStart(
            url=reply.authorization_url,
            issuer=reply.issuer,
            iss_supported=reply.iss_parameter_supported,
        )

    async def complete_login(
        self, *, code: str, code_verifier: str, nonce: str, redirect_uri: str
    ) -> LoginDone:
        """Exchange the code; the verified person and their tokens."""
        request = pb.CompleteLoginRequest(
            code=code, code_verifier=code_verifier, nonce=nonce, redirect_uri=redirect_uri
        )
        reply = await self._rpc("CompleteLogin", request)
        return LoginDone(
            user=_user(reply.user), tokens=_tokens(reply.tokens), became_admin=reply.became_admin
        )

    async def refresh_tokens(self, refresh_token: str) -> Tokens:
        """New tokens for a session."""
        reply = await self._rpc(
            "RefreshTokens", pb.RefreshTokensRequest(refresh_token=refresh_token)
        )
        return _tokens(reply.tokens)

    async def logout(self, refresh_token: str, post_logout_redirect_uri: str) -> str:
        """Revoke the refresh token; the provider's end-session URL ("" when none)."""
        request = pb.LogoutRequest(
            refresh_token=refresh_token, post_logout_redirect_uri=post_logout_redirect_uri
        )
        reply = await self._rpc("Logout", request)
        return str(reply.end_session_url)

    async def authenticate_bearer(
        self, token: str, client_address: str
    ) -> tuple[AuthContext, float | None]:
        """Who a bearer token stands for, and until when that may be cached (None: no expiry)."""
        request = pb.AuthenticateBearerRequest(token=token, client_address=client_address)
        reply = await self._rpc("AuthenticateBearer", request)
        p = reply.principal
        level = Level(p.scope_level)
        ctx = AuthContext(
            kind="api_token" if p.scope_kind == pb.SCOPE_KIND_TOKEN else "app_token",
            user_id=p.user_id,
            username=p.username,
            token_scope=level if p.scope_kind == pb.SCOPE_KIND_TOKEN else None,
            user_scope=level if p.scope_kind == pb.SCOPE_KIND_USER else None,
            token_id=p.token_id or None,
            app_client_id=p.app_client_id or None,
        )
        expires = (
            reply.expires_at.ToDatetime(tzinfo=UTC).timestamp()
            if reply.HasField("expires_at")
            else None
        )
        return ctx, expires

    async def create_token(self, ctx: AuthContext, name: str, scope: Level) -> str:
        """A new API token for the caller (plaintext, shown once)."""
        request = pb.CreateApiTokenRequest(name=name, scope=pb.TokenScope.ValueType(int(scope)))
        reply = await self._rpc("CreateApiToken", request, ctx)
        return str(reply.token)

    async def list_tokens(self, ctx: AuthContext, page: int, size: int) -> TokenPage:
        """The caller's tokens."""
        request = pb.ListApiTokensRequest(page=_page(page, size))
        reply = await self._rpc("ListApiTokens", request, ctx)
        info = reply.page_info
        data = [_token(t) for t in reply.api_tokens]
        return TokenPage(data=data, total=info.total, page=info.page, page_size=info.page_size)

    async def update_token(
        self, ctx: AuthContext, token_id: str, name: str | None, status: str | None
    ) -> ApiTokenOut:
        """Rename or (de)activate one of the caller's tokens."""
        request = pb.UpdateApiTokenRequest(id=token_id, name=name)
        if status is not None:
            request.status = (
                pb.API_TOKEN_STATUS_ACTIVE if status == "active" else pb.API_TOKEN_STATUS_INACTIVE
            )
        reply = await self._rpc("UpdateApiToken", request, ctx)
        return _token(reply.api_token)

    async def delete_token(self, ctx: AuthContext, token_id: str) -> None:
        """Delete one of the caller's tokens."""
        await self._rpc("DeleteApiToken", pb.DeleteApiTokenRequest(id=token_id), ctx)

    async def request_access(self, ctx: AuthContext) -> None:
        """The caller asks for a role."""
        await self._rpc("RequestAccess", pb.RequestAccessRequest(), ctx)

    async def access_status(self, ctx: AuthContext) -> RequestStatusOut:
        """The caller's latest access request."""
        reply = await self._rpc("GetAccessRequestStatus", pb.GetAccessRequestStatusRequest(), ctx)
        r = _request(reply.access_request)
        return RequestStatusOut(
            username=r.username, status=r.status, created_at=r.created_at, updated_at=r.updated_at
        )

    async def list_requests(
        self, ctx: AuthContext, pending_only: bool, page: int, size: int
    ) -> AccessRequestPage:
        """Access requests: pending (oldest first) or all (newest first)."""
        status = (
            pb.ACCESS_REQUEST_STATUS_PENDING
            if pending_only
            else pb.ACCESS_REQUEST_STATUS_UNSPECIFIED
        )
        request = pb.ListAccessRequestsRequest(page=_page(page, size), status=status)
        reply = await self._rpc("ListAccessRequests", request, ctx)
        info = reply.page_info
        rows = [_request(r) for r in reply.access_requests]
        return AccessRequestPage(
            requests=rows, total=info.total, page=info.page, page_size=info.page_size
        )

    async def approve(self, ctx: AuthContext, request_id: int, role: Level) -> AccessRequestOut:
        """Grant a role; returns the closed request."""
        request = pb.ApproveAccessRequestRequest(id=request_id, role=pb.Role.ValueType(int(role)))
        reply = await self._rpc("ApproveAccessRequest", request, ctx)
        return _request(reply.access_request)

    async def reject(self, ctx: AuthContext, request_id: int) -> AccessRequestOut:
        """Close a request without a role."""
        reply = await self._rpc(
            "RejectAccessRequest", pb.RejectAccessRequestRequest(id=request_id), ctx
        )
        return _request(reply.access_request)

    async def list_users(self, ctx: AuthContext, page: int, size: int) -> UserPage:
        """People and their roles, in the reference's paging shape."""
        reply = await self._rpc("ListUsers", pb.ListUsersRequest(page=_page(page, size)), ctx)
        info = reply.page_info
        pages = math.ceil(info.total / info.page_size) if info.page_size else 0
        return UserPage(
            client_id=reply.client_id, users=[_user(u) for u in reply.users], page=info.page,
            page_size=info.page_size, total_pages=pages, total_users=info.total,
            has_next=info.page < pages, has_previous=info.page > 1,
        )  # fmt: skip

    async def set_role(self, ctx: AuthContext, user_id: str, role: Level) -> UserInfo:
        """Change a person's role."""
        request = pb.SetUserRoleRequest(user_id=user_id, role=pb.Role.ValueType(int(role)))
        return _user((await self._rpc("SetUserRole", request, ctx)).user)

    async def remove_user(self, ctx: AuthContext, user_id: str) -> None:
        """Take away a person's access."""
        await self._rpc("RemoveUser", pb.RemoveUserRequest(user_id=user_id), ctx)

    async def request_app_access(self, app_client_id: str) -> str:
        """Allow a third-party app; the scope it should request for its users."""
        reply = await self._rpc(
            "RequestAppAccess", pb.RequestAppAccessRequest(app_client_id=app_client_id)
        )
        return str(reply.scope)


def _page(page: int, size: int) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page=page, page_size=size)


def _user(user: pb.User) -> UserInfo:
    role = Level(user.role).role() if user.role else None
    return UserInfo(
        user_id=user.user_id,
        username=user.username,
        first_name=user.first_name if user.HasField("first_name") else None,
        last_name=user.last_name if user.HasField("last_name") else None,
        role=role,
    )


def _tokens(tokens: pb.SessionTokens) -> Tokens:
    return Tokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        access_expires_at=tokens.access_token_expires_at.ToDatetime(tzinfo=UTC).timestamp(),
    )


def _token(token: pb.ApiToken) -> ApiTokenOut:
    return ApiTokenOut(
        id=token.id,
        user_id=token.user_id,
        name=token.name,
        token_prefix=token.token_prefix,
        scopes=Level(token.scope).token_scope(),
        status="active" if token.status == pb.API_TOKEN_STATUS_ACTIVE else "inactive",
        created_at=token.created_at.ToDatetime(tzinfo=UTC),
        updated_at=token.updated_at.ToDatetime(tzinfo=UTC),
        last_used_at=token.last_used_at.ToDatetime(tzinfo=UTC)
        if token.HasField("last_used_at")
        else None,
    )


def _request(request: pb.AccessRequest) -> AccessRequestOut:
    return AccessRequestOut(
        id=request.id,
        username=request.username,
        user_id=request.user_id,
        reviewer=request.reviewer if request.HasField("reviewer") else None,
        status=_REQUEST_STATUS.get(request.status, "pending"),
        created_at=request.created_at.ToDatetime(tzinfo=UTC),
        updated_at=request.updated_at.ToDatetime(tzinfo=UTC),
    )
