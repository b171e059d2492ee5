"""Whole stacks, started like `make run` (same processes, same variables), on free ports, against
the test PostgreSQL/Redis servers and a dev OIDC provider of their own.

- `stack` (one per session) is set up with an admin already logged in (`admin`); its provider
  issues access tokens for 10 s, so sessions refresh often.
- `fresh_stack` (one per module that asks) starts from a new install."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bodhi_devstack.components import SERVICES
from bodhi_devstack.postgres import drop_database
from bodhi_devstack.proc import free_port
from bodhi_devstack.redis_server import RedisDatabase
from bodhi_devstack.stack import HOST, Stack, StackPlan
from bodhi_devstack.upstream import LocalUpstream
from bodhi_e2e.client import BodhiClient

ACCESS_TOKEN_TTL = 10
PROVIDER_KEY = "sk-e2e-provider-key-0123456789abcdef"  # the local provider's key


@contextlib.contextmanager
def launch(
    pg_server: str,
    redis_server: str,
    data_dir: Path,
    *,
    oidc_host: str = HOST,
    env: dict[str, str] | None = None,
    fault_proxies: bool = False,
) -> Iterator[Stack]:
    """A stack on its own databases and its own Redis logical database; its provider's issuer
    is http://<oidc_host>:<port> (e.g. "localhost": another site than the gateway's 127.0.0.1).
    `env`: more variables for every service (e.g. HF_ENDPOINT of a local Hub); `fault_proxies`:
    a FaultProxy on each link of the gateway and of each service to PostgreSQL (stack.proxies)."""
    redis = RedisDatabase(redis_server).claim()
    plan = StackPlan(
        data_dir=data_dir,
        gateway_port=free_port(),
        service_ports={c.name: free_port() for c in SERVICES},
        metrics_ports={c.name: free_port() for c in SERVICES},
        postgres_url=pg_server,
        redis_url=redis.url,
        oidc_port=free_port(),
        oidc_host=oidc_host,
        database_prefix=f"e2e_{uuid.uuid4().hex[:8]}_",
        internal_key=uuid.uuid4().hex * 2,
        # Every test's client is 127.0.0.1, and many tests fail logins on purpose: the limit on
        # failed logins per client (tested in gateway/tests) would refuse the next test's login.
        extra_env={
            "BODHI_SHUTDOWN_GRACE_SECONDS": "3",
            "BODHI_FAILED_LOGIN_LIMIT": "100000",
            **(env or {}),
        },
        oidc_env={"OIDC_ACCESS_TOKEN_TTL": str(ACCESS_TOKEN_TTL)},
        fault_proxies=fault_proxies,
    )
    with (data_dir / "stack.log").open("w") as log:
        stack = Stack(plan, sink=log)
        try:
            stack.start()  # a stack that fails to start leaves no databases behind either
            yield stack
        finally:
            stack.stop()
            for component in SERVICES:
                asyncio.run(drop_database(pg_server, plan.database_name(component)))
            redis.flush()
            redis.release()


def cache_gguf(stack: Stack, repo: str, filename: str) -> None:
    """Put a small GGUF file into the stack's model cache, as huggingface_hub would."""
    from huggingface_hub import hf_hub_download

    from bodhi_devstack.hub import LocalHub

    with LocalHub() as hub:
        hub.add_gguf(repo, filename, name=repo.split("/")[1])
        hf_hub_download(repo, filename, endpoint=hub.url, cache_dir=stack.plan.model_cache / "hub")


@pytest.fixture(scope="session")
def provider() -> Iterator[LocalUpstream]:
    """A remote OpenAI-compatible provider (local, real HTTP) that wants PROVIDER_KEY."""
    with LocalUpstream(api_key=PROVIDER_KEY, models=["gpt-e2e", "embed-e2e"]) as up:
        yield up


@pytest.fixture(scope="session")
def llm_backend() -> Iterator[LocalUpstream]:
    """The local OpenAI-compatible server (llama-server's place) of the session stack."""
    with LocalUpstream(api_key=None, models=[]) as up:
        yield up


@pytest.fixture(scope="session")
def stack(
    pg_server: str,
    redis_server: str,
    tmp_path_factory: pytest.TempPathFactory,
    llm_backend: LocalUpstream,
) -> Iterator[Stack]:
    env = {"BODHI_LLM_BACKEND_URL": llm_backend.url}
    with launch(pg_server, redis_server, tmp_path_factory.mktemp("stack"), env=env) as stack:
        yield stack


@pytest.fixture(scope="module")
def fresh_stack(
    pg_server: str, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with launch(pg_server, redis_server, tmp_path_factory.mktemp("fresh")) as stack:
        yield stack


@pytest.fixture(scope="session")
def canaries() -> set[str]:
    """Secrets the session's clients saw; test_zz_secrets_in_logs.py greps the logs for them."""
    return set()


@pytest.fixture(scope="session")
def admin(stack: Stack, canaries: set[str]) -> Iterator[BodhiClient]:
    """The session stack, set up, with its first user (the admin) logged in."""
    client = BodhiClient(stack.gateway_url, canaries=canaries)
    assert client.setup("End-to-end test server").status_code == 200
    client.login_as("admin")
    yield client
    client.close()


@pytest.fixture
def bodhi(stack: Stack) -> Iterator[BodhiClient]:
    client = BodhiClient(stack.gateway_url)
    yield client
    client.close()


@pytest.fixture
def browser(stack: Stack, canaries: set[str]) -> Iterator[Callable[[], BodhiClient]]:
    """Makes clients with their own cookie jars (one per person) on the session stack."""
    with _clients(stack, canaries) as new:
        yield new


@pytest.fixture
def fresh_browser(fresh_stack: Stack) -> Iterator[Callable[[], BodhiClient]]:
    """Makes clients with their own cookie jars on the fresh stack."""
    with _clients(fresh_stack, set()) as new:
        yield new


@contextlib.contextmanager
def _clients(stack: Stack, canaries: set[str]) -> Iterator[Callable[[], BodhiClient]]:
    made: list[BodhiClient] = []

    def new() -> BodhiClient:
        made.append(BodhiClient(stack.gateway_url, canaries=canaries))
        return made[-1]

    try:
        yield new
    finally:
        for client in made:
            client.close()


@pytest.fixture(scope="module")
def cross_site_stack(
    pg_server: str, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A new install whose provider is on another site (localhost) than the gateway (127.0.0.1),
    so a browser applies its SameSite rules to the login redirects as in production."""
    data_dir = tmp_path_factory.mktemp("cross-site")
    with launch(pg_server, redis_server, data_dir, oidc_host="localhost") as stack:
        yield stack
