"""Every component's settings (the four services' SettingsService, and the gateway's own), as
administrators see them (reference §10, with the component that owns each key)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import grpc
from google.protobuf import json_format, struct_pb2

from bodhi.settings.v1 import settings_pb2 as pb
from bodhi.settings.v1 import settings_pb2_grpc
from bodhi_common.downstream import call
from bodhi_common.errors import InvalidArgument, NotFound
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.live_settings import LiveSettings
from bodhi_common.settings_service import setting_pb
from gateway.identity import AuthContext
from gateway.schemas.settings import SettingMeta, SettingOut

GATEWAY = "gateway"
_SOURCE: dict[int, Literal["environment", "database", "default"]] = {
    pb.SETTING_SOURCE_ENVIRONMENT: "environment",
    pb.SETTING_SOURCE_DATABASE: "database",
    pb.SETTING_SOURCE_DEFAULT: "default",
}


class SettingsClient:
    """SettingsService of every service, plus the gateway's LiveSettings."""

    def __init__(
        self, channels: dict[str, grpc.aio.Channel], internal: InternalAuth, timeout: float
    ) -> None:
        self._stubs = {n: settings_pb2_grpc.SettingsServiceStub(c) for n, c in channels.items()}
        self._internal = internal
        self._timeout = timeout
        self.live: LiveSettings | None = None  # the gateway's own, set by the app

    async def all(self, ctx: AuthContext) -> list[SettingOut]:
        """Every setting of every component: the gateway's first, then each service's."""
        lists = await asyncio.gather(
            *(self._call(n, "ListSettings", pb.ListSettingsRequest(), ctx) for n in self._stubs)
        )
        found = [_out(s) for s in self._own()]
        return found + [_out(s) for reply in lists for s in reply.settings]

    async def update(
        self, ctx: AuthContext, key: str, component: str | None, value: Any
    ) -> SettingOut:
        """Set an editable setting of the one component that has `key` (or `component`)."""
        owner = await self._owner(ctx, key, component)
        if owner == GATEWAY:
            assert self.live is not None
            await self.live.update(key, value, _actor(ctx))
            return _out(setting_pb(f"{GATEWAY}", self.live, key))
        request = pb.UpdateSettingRequest(
            key=key, value=json_format.ParseDict(value, struct_pb2.Value())
        )
        return _out((await self._call(owner, "UpdateSetting", request, ctx)).setting)

    async def reset(self, ctx: AuthContext, key: str, component: str | None) -> SettingOut:
        """Remove the stored value of an editable setting."""
        owner = await self._owner(ctx, key, component)
        if owner == GATEWAY:
            assert self.live is not None
            await self.live.reset(key, _actor(ctx))
            return _out(setting_pb(GATEWAY, self.live, key))
        request = pb.ResetSettingRequest(key=key)
        return _out((await self._call(owner, "ResetSetting", request, ctx)).setting)

    async def _owner(self, ctx: AuthContext, key: str, component: str | None) -> str:
        owners = [s.component for s in await self.all(ctx) if s.key == key]
        if component is not None:
            owners = [o for o in owners if o == component]
        if not owners:
            raise NotFound(f"setting with key not found: {key}", code="settings_error-not_found")
        if len(owners) > 1:
            raise InvalidArgument(
                f"{key} is a setting of {', '.join(owners)}: say which with ?component=",
                code="settings_error-ambiguous_key", param="component",
            )  # fmt: skip
        return owners[0].removesuffix("-svc")

    def _own(self) -> list[pb.Setting]:
        live = self.live
        return [] if live is None else [setting_pb(GATEWAY, live, k) for k in live.fields]

    async def _call(self, service: str, method: str, request: Any, ctx: AuthContext) -> Any:
        metadata = self._internal.metadata(service, ctx.principal())
        rpc = getattr(self._stubs[service], method)
        return await call(service, rpc(request, metadata=metadata, timeout=self._timeout))


def _actor(ctx: AuthContext) -> str:
    principal = ctx.principal()
    return principal.sub if principal else "unknown"


def _json(value: struct_pb2.Value, whole: bool) -> Any:
    """A protobuf Value as JSON; integer settings stay integers (protobuf carries doubles)."""
    found: Any = json_format.MessageToDict(value)
    return int(found) if whole and isinstance(found, float) and found.is_integer() else found


def _out(s: pb.Setting) -> SettingOut:
    kind = s.metadata.WhichOneof("kind") or "string"
    meta = SettingMeta(type=kind)
    if kind == "number":
        n = s.metadata.number
        meta = SettingMeta(type="number", min=n.min, max=n.max, integer=n.integer)
    elif kind == "option":
        meta = SettingMeta(type="option", options=list(s.metadata.option.options))
    whole = kind == "number" and s.metadata.number.integer
    return SettingOut(
        key=s.key, current_value=_json(s.current_value, whole),
        default_value=_json(s.default_value, whole),
        source=_SOURCE.get(s.source, "default"), metadata=meta, editable=s.editable,
        component=s.component, description=s.description,
    )  # fmt: skip
