"""auth-svc domain types."""

from __future__ import annotations

import enum


class AppStatus(enum.StrEnum):
    """Setup status of this installation (the reference's serialised values)."""

    SETUP = "setup"
    RESOURCE_ADMIN = "resource-admin"
    READY = "ready"
