"""aiproxy-svc tests: the real servicer beside a real secret-svc and model-svc, each on a fresh
database, with a local OpenAI-compatible upstream and a local Hub."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bodhi_devstack.hub import LocalHub
from bodhi_devstack.infra import temporary_database
from bodhi_devstack.upstream import LocalUpstream

from support import Services, services


@pytest.fixture
def upstream() -> Iterator[LocalUpstream]:
    with LocalUpstream(api_key="sk-test", models=["gpt-test", "text-embed"]) as up:
        yield up


@pytest.fixture
def backend() -> Iterator[LocalUpstream]:
    """The local OpenAI-compatible server (as llama-server would be): no key."""
    with LocalUpstream(api_key=None, models=[]) as up:
        yield up


@pytest.fixture
def local_hub() -> Iterator[LocalHub]:
    with LocalHub() as hub:
        yield hub


@pytest.fixture
def databases(pg_server: str) -> Iterator[list[str]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(temporary_database(pg_server)) for _ in range(3)]


@pytest.fixture
async def svc(
    databases: list[str], tmp_path: Path, local_hub: LocalHub, backend: LocalUpstream
) -> AsyncIterator[Services]:
    async with services(
        databases, tmp_path / "hf", local_hub.url, BODHI_LLM_BACKEND_URL=backend.url
    ) as running:
        yield running
