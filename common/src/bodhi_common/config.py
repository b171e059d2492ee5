"""Settings from the environment into one frozen msgspec Struct, read once at start-up.

A settings Struct is declared with `rename="upper"`, so the field `database_url` is read from
`DATABASE_URL`. Describe each field with `Meta(description=...)`; mark credentials with
`SECRET` so they are never shown. An empty variable counts as unset.
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import msgspec

T = TypeVar("T", bound=msgspec.Struct)
_UNIONS = (typing.Union, types.UnionType)

#: Put in a field's Meta(extra=...) to keep its value out of listings and logs.
SECRET: dict[str, Any] = {"secret": True}

_MISSING = re.compile(r"Object missing required field `(?P<name>[^`]+)`")
_AT_PATH = re.compile(r"^(?P<what>.*?)(?: - at `\$\.(?P<name>[^`\[]+)[^`]*`)?$", re.S)


class ConfigError(Exception):
    """A variable is missing or malformed; the message is one line that names it."""


def load(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build `cls` from the environment (or the given mapping)."""
    env = os.environ if environ is None else environ
    names = {field.encode_name for field in msgspec.structs.fields(cls)}
    raw = {name: env[name] for name in names if env.get(name, "") != ""}
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_one_line(str(exc))) from None


def _one_line(text: str) -> str:
    missing = _MISSING.search(text)
    if missing:
        return f"{missing['name']} is required but not set"
    found = _AT_PATH.match(text)
    assert found is not None  # the pattern matches any text
    what = found["what"].strip().replace("\n", " ")
    return f"{found['name']}: {what}" if found["name"] else what


def is_secret(field: msgspec.structs.FieldInfo) -> bool:
    """True for fields marked with SECRET."""
    return any(m.extra and m.extra.get("secret") for m in _metas(field))


def description(field: msgspec.structs.FieldInfo) -> str:
    """The field's one-line description ("" when none)."""
    return next((m.description for m in _metas(field) if m.description), "")


def _metas(field: msgspec.structs.FieldInfo) -> list[msgspec.Meta]:
    return _metas_of(field.type)


def _metas_of(annotation: Any) -> list[msgspec.Meta]:
    """Meta annotations, also inside unions (`Annotated[str, Meta(...)] | None`)."""
    found = [a for a in getattr(annotation, "__metadata__", ()) if isinstance(a, msgspec.Meta)]
    for inner in typing.get_args(annotation) if typing.get_origin(annotation) in _UNIONS else ():
        found += _metas_of(inner)
    return found


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for logs and error lines."""
    return re.sub(r"(?<=://)([^:/@]*):[^@/]*@", r"\1:***@", url)


Seconds = Annotated[float, msgspec.Meta(gt=0)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
