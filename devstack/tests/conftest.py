"""Fixtures for the devstack tests: one development OpenID provider shared by the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import Provider, launch


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    started = launch(tmp_path_factory.mktemp("oidc") / "data")
    yield started
    assert started.child.stop() == 0, started.child.tail()
