"""SettingsService for every service: lists its settings with value, default, source and type.

Precedence is environment > stored value (the service's `settings` table) > default. No setting
is editable at runtime yet, so UpdateSetting/ResetSetting refuse every key with the reference's
codes (unknown key → 404 `settings_error-not_found`, known key → 400 `settings_error-unsupported`).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

import asyncpg
import msgspec
from google.protobuf import json_format, struct_pb2

from bodhi.settings.v1 import settings_pb2, settings_pb2_grpc
from bodhi_common.config import description, is_secret
from bodhi_common.errors import InvalidArgument, NotFound

MASK = "***"
_SOURCE = settings_pb2.SettingSource


class SettingsServicer(settings_pb2_grpc.SettingsServiceServicer):
    """The settings of one component, read from its settings Struct and its database."""

    def __init__(
        self,
        component: str,
        settings: msgspec.Struct,
        environ: Mapping[str, str],
        pool: asyncpg.Pool[Any],
    ) -> None:
        self._component = component
        self._settings = settings
        self._environ = environ
        self._pool = pool
        self._fields = {f.encode_name: f for f in msgspec.structs.fields(type(settings))}

    async def ListSettings(
        self, request: settings_pb2.ListSettingsRequest, context: object
    ) -> settings_pb2.ListSettingsResponse:
        """Every setting of this component, in declaration order."""
        stored = await self._stored()
        return settings_pb2.ListSettingsResponse(
            settings=[self._setting(key, stored) for key in self._fields]
        )

    async def UpdateSetting(
        self, request: settings_pb2.UpdateSettingRequest, context: object
    ) -> settings_pb2.UpdateSettingResponse:
        """Refused: no setting of this component is editable at runtime yet."""
        self._refuse(request.key)

    async def ResetSetting(
        self, request: settings_pb2.ResetSettingRequest, context: object
    ) -> settings_pb2.ResetSettingResponse:
        """Refused: no setting of this component is editable at runtime yet."""
        self._refuse(request.key)

    def _refuse(self, key: str) -> typing.NoReturn:
        if key not in self._fields:
            raise NotFound(f"setting with key not found: {key}", code="settings_error-not_found")
        raise InvalidArgument(
            f"updating setting {key} is not supported yet", code="settings_error-unsupported"
        )

    async def _stored(self) -> dict[str, Any]:
        rows = await self._pool.fetch("SELECT key, value FROM settings")
        return {row["key"]: row["value"] for row in rows}

    def _setting(self, key: str, stored: Mapping[str, Any]) -> settings_pb2.Setting:
        field = self._fields[key]
        current = getattr(self._settings, field.name)
        if key in self._environ and self._environ[key] != "":
            source = _SOURCE.SETTING_SOURCE_ENVIRONMENT
        elif key in stored:
            source, current = _SOURCE.SETTING_SOURCE_DATABASE, stored[key]
        else:
            source = _SOURCE.SETTING_SOURCE_DEFAULT
        default = None if field.required else field.default
        if is_secret(field):
            current = MASK if current else None
            default = MASK if default else None
        return settings_pb2.Setting(
            key=key,
            current_value=_value(current),
            default_value=_value(default),
            source=source,
            metadata=metadata(field.type),
            editable=False,
            component=self._component,
            description=description(field),
        )


def _value(value: Any) -> struct_pb2.Value:
    return json_format.ParseDict(msgspec.to_builtins(value), struct_pb2.Value())


def metadata(annotation: Any) -> settings_pb2.SettingMetadata:
    """Type metadata for a settings field: option list, number range, boolean or string."""
    base, metas = _unwrap(annotation)
    if typing.get_origin(base) is typing.Literal:
        return settings_pb2.SettingMetadata(
            option=settings_pb2.OptionMetadata(options=[str(a) for a in typing.get_args(base)])
        )
    if base is bool:
        return settings_pb2.SettingMetadata(boolean=settings_pb2.BooleanMetadata())
    if base in (int, float):
        lows = [m.ge if m.ge is not None else m.gt for m in metas]
        highs = [m.le if m.le is not None else m.lt for m in metas]
        low = next((v for v in lows if v is not None), 0)
        high = next((v for v in highs if v is not None), 2**53)
        return settings_pb2.SettingMetadata(
            number=settings_pb2.NumberMetadata(min=low, max=high, integer=base is int)
        )
    return settings_pb2.SettingMetadata(string=settings_pb2.StringMetadata())


def _unwrap(annotation: Any) -> tuple[Any, list[msgspec.Meta]]:
    metas: list[msgspec.Meta] = []
    while typing.get_origin(annotation) is typing.Annotated:
        metas += [m for m in annotation.__metadata__ if isinstance(m, msgspec.Meta)]
        annotation = annotation.__origin__
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return _unwrap(inner[0])[0], metas + _unwrap(inner[0])[1]
    return annotation, metas
