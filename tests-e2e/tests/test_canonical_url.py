"""Issue 7, canonical URL: with a public URL configured, a browser on another origin is sent
there (301); health checks and calls with an API token are served where they arrive."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import launch

from bodhi_devstack.stack import Stack

PUBLIC = "https://bodhi.example.com"


@pytest.fixture(scope="module")
def public_stack(
    pg_server: str, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("canonical")
    with launch(pg_server, redis_server, data_dir, env={"BODHI_PUBLIC_URL": PUBLIC}) as stack:
        yield stack


def test_browsers_go_to_the_public_origin(public_stack: Stack) -> None:
    with httpx.Client(base_url=public_stack.gateway_url, timeout=10) as client:
        page = client.get("/ui?next=%2Fchat")
        assert page.status_code == 301
        assert page.headers["location"] == f"{PUBLIC}/ui?next=%2Fchat"
        assert client.head("/bodhi/v1/info").status_code == 301
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code in (200, 503)
        assert client.post("/bodhi/v1/logout").status_code == 200  # not GET/HEAD: served here
        bearer = client.get("/bodhi/v1/models", headers={"Authorization": "Bearer nope"})
        assert bearer.status_code == 401  # an API call is answered, not redirected
