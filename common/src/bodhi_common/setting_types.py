"""What a settings field's annotation says: its metadata for clients (string, number range,
boolean, option list) and the conversion of an administrator's JSON value to it, with the
reference's error codes (reference §10.3)."""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec

from bodhi.settings.v1 import settings_pb2
from bodhi_common.errors import InvalidArgument


def unwrap(annotation: Any) -> tuple[Any, list[msgspec.Meta]]:
    """The base type under Annotated/Optional, and the constraints on the way."""
    metas: list[msgspec.Meta] = []
    while typing.get_origin(annotation) is typing.Annotated:
        metas += [m for m in annotation.__metadata__ if isinstance(m, msgspec.Meta)]
        annotation = annotation.__origin__
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return unwrap(inner[0])[0], metas + unwrap(inner[0])[1]
    return annotation, metas


def _bounds(metas: list[msgspec.Meta]) -> tuple[float, float]:
    lows = [m.ge if m.ge is not None else m.gt for m in metas]
    highs = [m.le if m.le is not None else m.lt for m in metas]
    low = next((v for v in lows if v is not None), 0)
    high = next((v for v in highs if v is not None), 2**53)
    return float(low), float(high)


def metadata(annotation: Any) -> settings_pb2.SettingMetadata:
    """Type metadata for a settings field: option list, number range, boolean or string."""
    base, metas = unwrap(annotation)
    if typing.get_origin(base) is typing.Literal:
        return settings_pb2.SettingMetadata(
            option=settings_pb2.OptionMetadata(options=[str(a) for a in typing.get_args(base)])
        )
    if base is bool:
        return settings_pb2.SettingMetadata(boolean=settings_pb2.BooleanMetadata())
    if base in (int, float):
        low, high = _bounds(metas)
        return settings_pb2.SettingMetadata(
            number=settings_pb2.NumberMetadata(min=low, max=high, integer=base is int)
        )
    return settings_pb2.SettingMetadata(string=settings_pb2.StringMetadata())


def convert(key: str, annotation: Any, value: Any) -> Any:
    """An administrator's JSON value as the setting's type, or a 400 naming what is wrong."""
    if value is None:
        raise InvalidArgument("value is null", code="settings_metadata_error-null_value", param=key)
    base, metas = unwrap(annotation)
    if typing.get_origin(base) is typing.Literal:
        options = [str(a) for a in typing.get_args(base)]
        if str(value) not in options:
            raise _invalid(key, value, f"one of {', '.join(options)}")
        return str(value)
    if base is bool:
        text = str(value).lower()
        if isinstance(value, bool) or text in ("true", "false"):
            return value if isinstance(value, bool) else text == "true"
        raise _wrong_type(key, value, "boolean")
    if base in (int, float):
        return _number(key, base, metas, value)
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


def _number(key: str, base: type, metas: list[msgspec.Meta], value: Any) -> float | int:
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number != number:  # bools and NaN are not numbers here
        raise _wrong_type(key, value, "number")
    if base is int and not number.is_integer():
        raise _invalid(key, value, "a whole number")
    low, high = _bounds(metas)
    if not low <= number <= high or any(m.gt is not None and number <= m.gt for m in metas):
        raise _invalid(key, value, f"between {low:g} and {high:g}")
    return int(number) if base is int else number


def _wrong_type(key: str, value: Any, kind: str) -> InvalidArgument:
    return InvalidArgument(
        f"cannot parse {value!r} as {kind}", code="settings_metadata_error-invalid_value_type",
        param=key,
    )  # fmt: skip


def _invalid(key: str, value: Any, expected: str) -> InvalidArgument:
    return InvalidArgument(
        f"passed value is not a valid value: {value!r} (expected {expected})",
        code="settings_metadata_error-invalid_value", param=key,
    )  # fmt: skip
