"""Fixtures for the devstack tests: one development OpenID provider and one local Hub shared by
the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hub_support import TOKEN

from bodhi_devstack.hub import LocalHub

from support import Provider, launch


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    started = launch(tmp_path_factory.mktemp("oidc") / "data")
    yield started
    assert started.child.stop() == 0, started.child.tail()


@pytest.fixture(scope="session")
def hub() -> Iterator[LocalHub]:
    """One local Hub for the Hub tests (each test adds files under a fresh repo id)."""
    with LocalHub(tokens=[TOKEN]) as started:
        yield started


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c
