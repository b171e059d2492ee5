"""Helpers for auth-svc tests."""

from __future__ import annotations

from bodhi_common.clock import SystemClock
from bodhi_common.internal_auth import InternalAuth, Metadata

KEY = "auth-svc-test-internal-key-0123456789"


def as_gateway() -> Metadata:
    """Metadata of a call made by the gateway."""
    return InternalAuth(KEY, "gateway", SystemClock()).metadata("auth")
