"""Shared by the fault tests (test_faults_*.py): the settings of their stacks and a timer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

T = TypeVar("T")
Fault = Literal["reset", "blackhole"]

# Short deadlines so that a hung dependency shows within a test's budget: the gateway's calls
# to services, and the longest silence aiproxy-svc accepts from a provider.
# A bearer token is cached 1 s (not 60), so a test can outwait the cache and see what happens
# when auth-svc must be asked.
FAULT_ENV = {
    "BODHI_RPC_TIMEOUT_SECONDS": "2",
    "BODHI_UPSTREAM_READ_TIMEOUT_SECONDS": "2",
    "BODHI_BEARER_CACHE_SECONDS": "1",
}


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """The result of `action` and how long it took, in milliseconds (reported, not asserted)."""
    started = time.monotonic()
    result = action()
    return result, 1000 * (time.monotonic() - started)
