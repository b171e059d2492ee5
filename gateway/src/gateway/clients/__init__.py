"""Typed calls to the services: one small async function per RPC the gateway uses.

Handlers never build protobuf messages; they call these and get msgspec Structs back. A failed
call raises the common error vocabulary (downstream.call), which errors.py turns into HTTP.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bodhi.auth.v1 import auth_pb2, auth_pb2_grpc
from bodhi_common.channels import open_channel
from bodhi_common.downstream import call
from bodhi_common.internal_auth import InternalAuth
from gateway.schemas import AppInfo, AppStatus, Check
from gateway.settings import GatewaySettings

_APP_STATUS: dict[int, AppStatus] = {
    auth_pb2.APP_STATUS_SETUP: "setup",
    auth_pb2.APP_STATUS_RESOURCE_ADMIN: "resource-admin",
    auth_pb2.APP_STATUS_READY: "ready",
}


class Backends:
    """One channel per service for the life of the app, and the clients built on them."""

    NAMES = ("auth", "secret", "model", "aiproxy")

    def __init__(self, settings: GatewaySettings, internal: InternalAuth) -> None:
        self._settings = settings
        self._internal = internal
        self._channels: dict[str, grpc.aio.Channel] = {}

    def open(self) -> None:
        """Create the channels (they connect lazily, so a service that is down does not block)."""
        s = self._settings
        addresses = {
            "auth": s.bodhi_auth_addr,
            "secret": s.bodhi_secret_addr,
            "model": s.bodhi_model_addr,
            "aiproxy": s.bodhi_aiproxy_addr,
        }
        self._channels = {name: open_channel(addr) for name, addr in addresses.items()}
        timeout = s.bodhi_rpc_timeout_seconds
        self.auth = AuthClient(self._channels["auth"], self._internal, timeout)
        self.health = HealthClient(self._channels)

    async def close(self) -> None:
        """Close every channel."""
        for channel in self._channels.values():
            await channel.close()


class AuthClient:
    """Calls to auth-svc."""

    def __init__(self, channel: grpc.aio.Channel, internal: InternalAuth, timeout: float) -> None:
        self._stub = auth_pb2_grpc.AuthServiceStub(channel)
        self._internal = internal
        self._timeout = timeout

    async def get_app_info(self) -> AppInfo:
        """Version and setup status of this installation."""
        reply = await call(
            "auth",
            self._stub.GetAppInfo(
                auth_pb2.GetAppInfoRequest(),
                metadata=self._internal.metadata("auth"),
                timeout=self._timeout,
            ),
        )
        return AppInfo(version=reply.version, status=_APP_STATUS.get(reply.status, "setup"))

    async def setup_app(self, name: str, description: str) -> AppStatus:
        """Register this installation with the identity provider."""
        reply = await call(
            "auth",
            self._stub.SetupApp(
                auth_pb2.SetupAppRequest(name=name, description=description),
                metadata=self._internal.metadata("auth"),
                timeout=self._timeout,
            ),
        )
        return _APP_STATUS.get(reply.status, "setup")


class HealthClient:
    """grpc.health.v1 checks of every service (open methods: no internal token needed)."""

    def __init__(self, channels: dict[str, grpc.aio.Channel]) -> None:
        self._stubs = {name: health_pb2_grpc.HealthStub(ch) for name, ch in channels.items()}

    async def check(self, service: str, timeout: float) -> Check:
        """ "ok", "not_serving", "timeout" or "unavailable"."""
        try:
            reply = await self._stubs[service].Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.aio.AioRpcError as err:
            return "timeout" if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED else "unavailable"
        return "ok" if reply.status == health_pb2.HealthCheckResponse.SERVING else "not_serving"
