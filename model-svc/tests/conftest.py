"""model-svc tests: the real servicer on a local port, a fresh database, a temporary HF home and
a real local Hub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bodhi.model.v1 import model_pb2_grpc
from bodhi_devstack.hub import LocalHub

from support import service_env, serving


@pytest.fixture
def local_hub() -> Iterator[LocalHub]:
    with LocalHub(tokens=["hf_gate_key"]) as hub:
        yield hub


@pytest.fixture
def env(database_url: str, tmp_path: Path, local_hub: LocalHub) -> dict[str, str]:
    return service_env(database_url, tmp_path / "hf", local_hub.url)


@pytest.fixture
async def models(env: dict[str, str]) -> AsyncIterator[model_pb2_grpc.ModelServiceStub]:
    async with serving(env) as stub:
        yield stub
