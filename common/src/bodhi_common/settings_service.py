"""SettingsService for every service: lists its settings with value, default, source, type and
whether each is editable; updates and resets the editable ones (bodhi_common.live_settings),
validated with the reference's error codes (reference §10.3)."""

from __future__ import annotations

from typing import Any

import msgspec
from google.protobuf import json_format, struct_pb2

from bodhi.settings.v1 import settings_pb2, settings_pb2_grpc
from bodhi_common.config import description, is_secret
from bodhi_common.context import current_caller
from bodhi_common.live_settings import LiveSettings
from bodhi_common.setting_types import metadata

MASK = "***"
_SOURCE = {
    "environment": settings_pb2.SETTING_SOURCE_ENVIRONMENT,
    "database": settings_pb2.SETTING_SOURCE_DATABASE,
    "default": settings_pb2.SETTING_SOURCE_DEFAULT,
}


class SettingsServicer(settings_pb2_grpc.SettingsServiceServicer):
    """The settings of one component."""

    def __init__(self, component: str, live: LiveSettings) -> None:
        self._component = component
        self._live = live

    async def ListSettings(
        self, request: settings_pb2.ListSettingsRequest, context: object
    ) -> settings_pb2.ListSettingsResponse:
        """Every setting of this component, in declaration order, as stored now."""
        await self._live.load()
        return settings_pb2.ListSettingsResponse(
            settings=[setting_pb(self._component, self._live, key) for key in self._live.fields]
        )

    async def UpdateSetting(
        self, request: settings_pb2.UpdateSettingRequest, context: object
    ) -> settings_pb2.UpdateSettingResponse:
        """Store a new value for an editable setting; it applies at once."""
        value = json_format.MessageToDict(request.value) if request.HasField("value") else None
        await self._live.update(request.key, value, _actor())
        return settings_pb2.UpdateSettingResponse(
            setting=setting_pb(self._component, self._live, request.key)
        )

    async def ResetSetting(
        self, request: settings_pb2.ResetSettingRequest, context: object
    ) -> settings_pb2.ResetSettingResponse:
        """Remove a stored value; the environment's value or the default applies at once."""
        await self._live.reset(request.key, _actor())
        return settings_pb2.ResetSettingResponse(
            setting=setting_pb(self._component, self._live, request.key)
        )


def _actor() -> str:
    caller = current_caller()
    principal = caller.principal
    return f"{principal.sub} via {caller.service}" if principal else caller.service


def setting_pb(component: str, live: LiveSettings, key: str) -> settings_pb2.Setting:
    """One setting on the wire (secrets masked)."""
    field = live.fields[key]
    current = live.value(key)
    default = None if field.required else field.default
    if is_secret(field):
        current = MASK if current else None
        default = MASK if default else None
    return settings_pb2.Setting(
        key=key,
        current_value=_value(current),
        default_value=_value(default),
        source=_SOURCE[live.source(key)],
        metadata=metadata(field.type),
        editable=live.is_editable(key),
        component=component,
        description=description(field),
    )


def _value(value: Any) -> struct_pb2.Value:
    return json_format.ParseDict(msgspec.to_builtins(value), struct_pb2.Value())
