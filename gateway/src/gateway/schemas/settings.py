"""HTTP bodies of the settings routes (reference §1.8, §10)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class SettingMeta(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A setting's type: string, number (with its range), boolean or option (with its list)."""

    type: Literal["string", "number", "boolean", "option"]
    min: float | None = None
    max: float | None = None
    integer: bool | None = None
    options: list[str] | None = None


class SettingOut(msgspec.Struct, frozen=True, kw_only=True):
    """One setting as an administrator sees it (secrets as ***)."""

    key: str
    current_value: Any
    default_value: Any
    source: Literal["environment", "database", "default"]
    metadata: SettingMeta
    editable: bool
    component: str
    description: str


class SettingValue(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A new value for an editable setting (any JSON; null is refused)."""

    value: Any
