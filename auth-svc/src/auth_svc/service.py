"""AuthService: protobuf ↔ domain translation only. The person acting is the principal the
gateway put in the internal token; role rules re-read that person's role from the database."""

from __future__ import annotations

from typing import Any

from auth_svc import convert
from auth_svc.bearer import Bearer
from auth_svc.identity import Identity
from auth_svc.login import Login
from auth_svc.store import AuthStore
from auth_svc.tokens import ApiTokens
from bodhi.auth.v1 import auth_pb2 as pb
from bodhi.auth.v1 import auth_pb2_grpc
from bodhi_common.context import current_caller
from bodhi_common.errors import Unauthenticated
from bodhi_common.paging import page_of

Context = Any


def _actor() -> str:
    """The user id the call acts for."""
    principal = current_caller().principal
    if principal is None:
        raise Unauthenticated("this operation needs a logged-in user", code="no_principal")
    return principal.sub


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """Identity and access."""

    def __init__(
        self, store: AuthStore, login: Login, identity: Identity, tokens: ApiTokens, version: str
    ) -> None:
        self._store = store
        self._login = login
        self._identity = identity
        self._tokens = tokens
        self._bearer = Bearer(tokens, login, store)
        self._version = version

    async def GetAppInfo(self, request: pb.GetAppInfoRequest, context: Context) -> Any:
        """Version and setup status."""
        status = await self._store.app_status()
        return pb.GetAppInfoResponse(version=self._version, status=convert.APP_STATUS[status])

    async def SetupApp(self, request: pb.SetupAppRequest, context: Context) -> Any:
        """Register this server at the provider."""
        uris = list(request.redirect_uris)
        status = await self._login.setup(request.name, request.description, uris)
        return pb.SetupAppResponse(status=convert.APP_STATUS[status])

    async def BeginLogin(self, request: pb.BeginLoginRequest, context: Context) -> Any:
        """The authorization URL for a login the gateway started."""
        url, issuer, iss_supported = await self._login.begin(
            redirect_uri=request.redirect_uri, state=request.state, nonce=request.nonce,
            code_challenge=request.code_challenge,
        )  # fmt: skip
        return pb.BeginLoginResponse(
            authorization_url=url, issuer=issuer, iss_parameter_supported=iss_supported
        )

    async def CompleteLogin(self, request: pb.CompleteLoginRequest, context: Context) -> Any:
        """Exchange the code and verify the id_token."""
        result = await self._login.complete(
            code=request.code, code_verifier=request.code_verifier, nonce=request.nonce,
            redirect_uri=request.redirect_uri,
        )  # fmt: skip
        return pb.CompleteLoginResponse(
            user=convert.user_pb(result.user),
            tokens=convert.tokens_pb(result.tokens),
            became_admin=result.became_admin,
        )

    async def RefreshTokens(self, request: pb.RefreshTokensRequest, context: Context) -> Any:
        """New tokens for a session."""
        tokens = await self._login.refresh(request.refresh_token)
        return pb.RefreshTokensResponse(tokens=convert.tokens_pb(tokens))

    async def Logout(self, request: pb.LogoutRequest, context: Context) -> Any:
        """Revoke the session's refresh token at the provider."""
        revoked, end_session = await self._login.logout(
            refresh_token=request.refresh_token,
            post_logout_redirect_uri=request.post_logout_redirect_uri,
        )
        return pb.LogoutResponse(revoked=revoked, end_session_url=end_session)

    async def AuthenticateBearer(
        self, request: pb.AuthenticateBearerRequest, context: Context
    ) -> Any:
        """Who an API token or app token stands for."""
        principal = await self._bearer.authenticate(request.token)
        return pb.AuthenticateBearerResponse(
            principal=convert.principal_pb(principal),
            expires_at=convert.timestamp(principal.expires_at),
        )

    async def GetPrincipal(self, request: pb.GetPrincipalRequest, context: Context) -> Any:
        """A person's current role."""
        user = await self._identity.user(request.user_id)
        return pb.GetPrincipalResponse(
            principal=pb.Principal(
                user_id=user.user_id, username=user.username, role=convert.role_pb(user.role)
            )
        )

    async def CreateApiToken(self, request: pb.CreateApiTokenRequest, context: Context) -> Any:
        """A new API token for the caller, shown once."""
        scope = convert.role_of(request.scope, "scope")
        token, row = await self._tokens.create(_actor(), request.name, scope)
        return pb.CreateApiTokenResponse(token=token, api_token=convert.api_token_pb(row))

    async def ListApiTokens(self, request: pb.ListApiTokensRequest, context: Context) -> Any:
        """The caller's API tokens."""
        page = page_of(request.page)
        rows, total = await self._tokens.list(_actor(), page.size, page.offset)
        return pb.ListApiTokensResponse(
            api_tokens=[convert.api_token_pb(r) for r in rows], page_info=page.info(total)
        )

    async def UpdateApiToken(self, request: pb.UpdateApiTokenRequest, context: Context) -> Any:
        """Rename or (de)activate one of the caller's tokens."""
        name = request.name if request.HasField("name") else None
        status = convert.token_status_of(request.status) if request.HasField("status") else None
        row = await self._tokens.update(_actor(), request.id, name, status)
        return pb.UpdateApiTokenResponse(api_token=convert.api_token_pb(row))

    async def DeleteApiToken(self, request: pb.DeleteApiTokenRequest, context: Context) -> Any:
        """Delete one of the caller's tokens."""
        await self._tokens.delete(_actor(), request.id)
        return pb.DeleteApiTokenResponse()

    async def RequestAccess(self, request: pb.RequestAccessRequest, context: Context) -> Any:
        """The caller asks for a role."""
        created = await self._identity.request_access(_actor())
        return pb.RequestAccessResponse(access_request=convert.access_request_pb(created))

    async def GetAccessRequestStatus(
        self, request: pb.GetAccessRequestStatusRequest, context: Context
    ) -> Any:
        """The caller's latest request."""
        latest = await self._identity.access_status(_actor())
        return pb.GetAccessRequestStatusResponse(access_request=convert.access_request_pb(latest))

    async def ListAccessRequests(
        self, request: pb.ListAccessRequestsRequest, context: Context
    ) -> Any:
        """Requests, pending or all."""
        page, status = page_of(request.page), convert.request_status_of(request.status)
        rows, total = await self._identity.requests(status, page.size, page.offset)
        return pb.ListAccessRequestsResponse(
            access_requests=[convert.access_request_pb(r) for r in rows],
            page_info=page.info(total),
        )

    async def ApproveAccessRequest(
        self, request: pb.ApproveAccessRequestRequest, context: Context
    ) -> Any:
        """Grant a role (≤ the reviewer's own)."""
        role = convert.role_of(request.role)
        decided = await self._identity.approve(_actor(), request.id, role)
        return pb.ApproveAccessRequestResponse(access_request=convert.access_request_pb(decided))

    async def RejectAccessRequest(
        self, request: pb.RejectAccessRequestRequest, context: Context
    ) -> Any:
        """Close a request without a role."""
        decided = await self._identity.reject(_actor(), request.id)
        return pb.RejectAccessRequestResponse(access_request=convert.access_request_pb(decided))

    async def ListUsers(self, request: pb.ListUsersRequest, context: Context) -> Any:
        """People and their roles."""
        page = page_of(request.page)
        users, total = await self._identity.users(page.size, page.offset)
        app = await self._store.app()
        return pb.ListUsersResponse(
            users=[convert.user_pb(u) for u in users],
            page_info=page.info(total),
            client_id=app.client_id or "" if app else "",
        )

    async def SetUserRole(self, request: pb.SetUserRoleRequest, context: Context) -> Any:
        """Change a person's role."""
        role = convert.role_of(request.role)
        user = await self._identity.set_role(_actor(), request.user_id, role)
        return pb.SetUserRoleResponse(user=convert.user_pb(user))

    async def RemoveUser(self, request: pb.RemoveUserRequest, context: Context) -> Any:
        """Take away a person's access."""
        await self._identity.remove(_actor(), request.user_id)
        return pb.RemoveUserResponse()

    async def RequestAppAccess(self, request: pb.RequestAppAccessRequest, context: Context) -> Any:
        """Allow a third-party app's user tokens here."""
        scope = await self._identity.grant_app(request.app_client_id)
        return pb.RequestAppAccessResponse(scope=scope)
