"""AuthService: protobuf ↔ domain translation only. RPCs not overridden here are answered
UNIMPLEMENTED by the interceptor until their issue builds them (identity: issue #4)."""

from __future__ import annotations

from auth_svc.domain import AppStatus
from auth_svc.store import AuthStore
from bodhi.auth.v1 import auth_pb2, auth_pb2_grpc

_STATUS_PB = {
    AppStatus.SETUP: auth_pb2.APP_STATUS_SETUP,
    AppStatus.RESOURCE_ADMIN: auth_pb2.APP_STATUS_RESOURCE_ADMIN,
    AppStatus.READY: auth_pb2.APP_STATUS_READY,
}


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """Identity and access."""

    def __init__(self, store: AuthStore, version: str) -> None:
        self._store = store
        self._version = version

    async def GetAppInfo(
        self, request: auth_pb2.GetAppInfoRequest, context: object
    ) -> auth_pb2.GetAppInfoResponse:
        """Version and setup status."""
        status = await self._store.app_status()
        return auth_pb2.GetAppInfoResponse(version=self._version, status=_STATUS_PB[status])
