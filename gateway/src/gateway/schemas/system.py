"""msgspec Structs for the gateway's HTTP bodies."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

AppStatus = Literal["setup", "resource-admin", "ready"]


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """A one-field reply, e.g. {"message": "pong"}."""

    message: str


class AppInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Version and setup status of this installation."""

    version: str
    status: AppStatus


class SetupRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """First-run setup: the name this server registers under at the identity provider."""

    name: Annotated[str, msgspec.Meta(min_length=10, max_length=200)]
    description: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class SetupResponse(msgspec.Struct, frozen=True, kw_only=True):
    """The status after setup."""

    status: AppStatus


Check = Literal["ok", "not_serving", "timeout", "unavailable"]


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    """Whether every dependency answers; `down` names the ones that do not."""

    status: Literal["ready", "unavailable"]
    checks: dict[str, Check]
    down: list[str]


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The OpenAI-style error object."""

    message: str
    type: str
    code: str
    param: str | None = None


class ErrorEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """{"error": {...}}: every error response of the API."""

    error: ErrorBody
