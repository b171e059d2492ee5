"""Shared by the fault tests (test_faults_*.py): their stacks, first admin, and a timer."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

from conftest import launch

from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient

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


@contextlib.contextmanager
def faulty_stack(pg_server: str, redis_server: str, data_dir: Path) -> Iterator[Stack]:
    """A new install with a FaultProxy on every link (Stack.proxies) and FAULT_ENV's deadlines."""
    with launch(pg_server, redis_server, data_dir, env=FAULT_ENV, fault_proxies=True) as stack:
        yield stack


@contextlib.contextmanager
def first_admin(stack: Stack) -> Iterator[BodhiClient]:
    """The new install set up, and its first user (the admin) logged in with a session."""
    with BodhiClient(stack.gateway_url) as client:
        assert client.setup("Fault tests").status_code == 200
        client.login_as("admin")
        yield client
