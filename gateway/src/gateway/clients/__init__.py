"""Typed calls to the services: one small async function per RPC the gateway uses.

Handlers never build protobuf messages; they call these and get msgspec Structs back. A failed
call raises the common error vocabulary (downstream.call), which errors.py turns into HTTP.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bodhi_common.channels import open_channel
from bodhi_common.internal_auth import InternalAuth
from gateway.clients.aiproxy import AiProxyClient
from gateway.clients.auth import AuthClient
from gateway.clients.model import ModelClient
from gateway.clients.settings import SettingsClient
from gateway.schemas.system import Check
from gateway.settings import GatewaySettings


class Backends:
    """One channel per service for the life of the app, and the clients built on them."""

    NAMES = ("auth", "secret", "model", "aiproxy")

    def __init__(self, settings: GatewaySettings, internal: InternalAuth) -> None:
        """Create the channels (call inside the app's event loop). They connect lazily, so a
        service that is down does not block start-up."""
        s = settings
        addresses = {
            "auth": s.bodhi_auth_addr,
            "secret": s.bodhi_secret_addr,
            "model": s.bodhi_model_addr,
            "aiproxy": s.bodhi_aiproxy_addr,
        }
        self._channels = {name: open_channel(addr) for name, addr in addresses.items()}
        timeout = s.bodhi_rpc_timeout_seconds
        self.auth = AuthClient(self._channels["auth"], internal, timeout)
        self.model = ModelClient(self._channels["model"], internal, timeout)
        self.aiproxy = AiProxyClient(self._channels["aiproxy"], internal, timeout)
        self.settings = SettingsClient(self._channels, internal, timeout)
        self.health = HealthClient(self._channels)

    async def close(self) -> None:
        """Close every channel."""
        for channel in self._channels.values():
            await channel.close()


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
