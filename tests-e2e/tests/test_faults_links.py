"""Faults on the gateway's links (issue #9; reliability-security.md G12, G13): a FaultProxy sits
between the gateway and Redis and between the gateway and each service; a test breaks one link
(reset: every connection cut with a RST; blackhole: a hung peer that accepts and never answers),
checks the gateway answers a clear status promptly (never a hang, a 500 or an anonymous
fallback) and that /ready names the broken dependency, then heals the link and checks the same
clients recover without restarting anything. Figures are printed (run with -s), not asserted."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import httpx
import pytest
from faults_support import Fault, faulty_stack, first_admin, timed

from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient, until

DEADLINE = 5.0  # a request hung longer than this fails the test (httpx.ReadTimeout)


@pytest.fixture(scope="module")
def faulty(
    pg_server: str, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A new install whose gateway reaches Redis and every service through a FaultProxy."""
    with faulty_stack(pg_server, redis_server, tmp_path_factory.mktemp("faults-links")) as stack:
        yield stack


@pytest.fixture(scope="module")
def admin(faulty: Stack) -> Iterator[BodhiClient]:
    """The first user (the admin), logged in with a session cookie."""
    with first_admin(faulty) as client:
        yield client


@pytest.fixture(scope="module")
def robot(admin: BodhiClient) -> Iterator[BodhiClient]:
    """A client with an API token (bearer), already verified once (so cached)."""
    with admin.with_bearer(admin.create_token("scope_token_user", "fault robot")) as client:
        assert client.whoami()["auth_status"] == "api_token"
        yield client


@pytest.fixture
def anonymous(faulty: Stack) -> Iterator[BodhiClient]:
    with BodhiClient(faulty.gateway_url) as client:
        yield client


@pytest.fixture(autouse=True)
def healed(faulty: Stack) -> Iterator[None]:
    """Every link passes again after each test, whatever the test did."""
    yield
    for proxy in faulty.proxies.values():
        proxy.heal()


@pytest.mark.parametrize("fault", ["reset", "blackhole"])
def test_a_lost_session_store_is_a_prompt_503_and_heals(
    faulty: Stack, admin: BodhiClient, robot: BodhiClient, anonymous: BodhiClient, fault: Fault
) -> None:
    """Expect: with Redis cut (reset) or hung (blackhole), session routes answer 503
    `session_store_unavailable` within Redis's socket timeout (0.8 s; the test allows 5 s), never
    200 logged-out; bearer-token routes keep working (they need no session); /ready names
    redis; after heal the same session cookie works again, nothing restarted."""
    assert admin.whoami()["auth_status"] == "logged_in"
    proxy = faulty.proxies["redis"]
    getattr(proxy, fault)()
    response, took = timed(lambda: admin.http.get("/bodhi/v1/user", timeout=DEADLINE))
    print(f"\nredis {fault}: GET /bodhi/v1/user -> {response.status_code} in {took:.0f} ms")
    assert (response.status_code, response.json()["error"]["code"]) == (
        503,
        "session_store_unavailable",
    )
    tokens = admin.http.get("/bodhi/v1/tokens", timeout=DEADLINE)
    assert (tokens.status_code, tokens.json()["error"]["code"]) == (
        503,
        "session_store_unavailable",
    )
    bearer, took = timed(lambda: robot.http.get("/bodhi/v1/user", timeout=DEADLINE))
    print(f"redis {fault}: bearer GET /bodhi/v1/user -> {bearer.status_code} in {took:.0f} ms")
    assert bearer.json() == {"auth_status": "api_token", "role": "scope_token_user"}
    assert robot.http.get("/v1/models", timeout=DEADLINE).status_code == 200
    ready = anonymous.http.get("/ready", timeout=DEADLINE)
    assert (ready.status_code, ready.json()["down"]) == (503, ["redis"])
    proxy.heal()
    assert anonymous.wait_until(ready=True).status_code == 200
    assert admin.whoami()["auth_status"] == "logged_in"  # the same session, still there
    assert robot.whoami()["auth_status"] == "api_token"


# One route per service, each answered by that service alone (secret: the settings list asks
# every service, so only the broken one can fail it).
PROBES = {
    "auth": ("anonymous", "/bodhi/v1/info"),
    "secret": ("admin", "/bodhi/v1/settings"),
    "model": ("admin", "/bodhi/v1/modelfiles"),
    "aiproxy": ("admin", "/bodhi/v1/api-models"),
}
EXPECTED = {"reset": (503, "service_unavailable"), "blackhole": (504, "service_timeout")}


@pytest.mark.parametrize("fault", ["reset", "blackhole"])
@pytest.mark.parametrize("service", list(PROBES))
def test_a_lost_service_is_a_clear_503_or_504_named_by_ready_and_heals(
    faulty: Stack, admin: BodhiClient, anonymous: BodhiClient, service: str, fault: Fault
) -> None:
    """Expect: with the link to one service cut (reset) the gateway answers 503
    `service_unavailable` at once; hung (blackhole), 504 `service_timeout` at its RPC deadline
    (BODHI_RPC_TIMEOUT_SECONDS=2; the test allows 5 s): never a hang or a 500, and the message
    names the service. /ready names that service alone; after heal the route answers 200
    again on the same channels, nothing restarted."""
    who, path = PROBES[service]
    client = admin if who == "admin" else anonymous
    assert client.http.get(path).status_code == 200
    proxy = faulty.proxies[service]
    getattr(proxy, fault)()
    response, took = timed(lambda: client.http.get(path, timeout=DEADLINE))
    print(f"\n{service} {fault}: GET {path} -> {response.status_code} in {took:.0f} ms")
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == EXPECTED[fault]
    assert service in error["message"]
    ready = anonymous.http.get("/ready", timeout=DEADLINE)
    assert (ready.status_code, ready.json()["down"]) == (503, [service])
    proxy.heal()
    started = time.monotonic()
    assert anonymous.wait_until(ready=True).status_code == 200
    print(f"{service} {fault}: ready again {1000 * (time.monotonic() - started):.0f} ms after heal")
    assert client.http.get(path).status_code == 200


@pytest.mark.parametrize("fault", ["reset", "blackhole"])
def test_a_recently_verified_bearer_token_outlives_an_auth_outage(
    faulty: Stack, robot: BodhiClient, fault: Fault
) -> None:
    """Expect: with auth-svc cut or hung, a bearer token verified within
    BODHI_BEARER_STALE_SECONDS is still accepted after its cache time (1 s here; tokens change
    only through auth-svc), while a token never seen gets 503/504 (never a 401: nothing is known
    of it, and never a 200)."""
    assert robot.whoami()["auth_status"] == "api_token"
    time.sleep(1.2)  # past the 1 s cache time: the next call would ask auth-svc
    getattr(faulty.proxies["auth"], fault)()
    response, took = timed(lambda: robot.http.get("/v1/models", timeout=DEADLINE))
    print(
        f"\nauth {fault}: a warm token's GET /v1/models -> {response.status_code} in {took:.0f} ms"
    )
    assert response.status_code == 200, response.text
    with BodhiClient(
        faulty.gateway_url, headers={"Authorization": "Bearer bodhiapp_stranger"}
    ) as s:
        stranger = s.http.get("/v1/models", timeout=DEADLINE)
    assert stranger.status_code in (503, 504), stranger.text


def test_without_model_svc_the_model_list_still_names_the_api_models(
    faulty: Stack, robot: BodhiClient
) -> None:
    """Expect: with model-svc down (killed: aiproxy-svc reaches it directly, not through a
    proxy), GET /v1/models answers 200 with the API models (they route without model-svc) and
    `x-bodhi-models-incomplete: local`, not a 503 that hides every model; a name it cannot find
    is 503 (it may be a local alias), not 404; once model-svc is back the header is gone (after
    aiproxy-svc's own channel reconnects: its backoff is capped at 2 s, and the gateway's /ready
    speaks only for the gateway's channels, so the list may lag /ready by that much)."""
    faulty.children["model"].send_signal(signal.SIGKILL)
    robot.wait_until(ready=False)
    listed = robot.http.get("/v1/models", timeout=DEADLINE)
    assert listed.status_code == 200, listed.text
    assert listed.headers.get("x-bodhi-models-incomplete") == "local"
    unknown = robot.http.get("/v1/models/some-local-alias", timeout=DEADLINE)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (503, "service_unavailable")
    faulty.restart("model")
    robot.wait_until(ready=True)
    healed, took = timed(
        lambda: until(
            lambda: robot.http.get("/v1/models", timeout=DEADLINE),
            lambda r: r.status_code == 200 and "x-bodhi-models-incomplete" not in r.headers,
        )
    )
    print(f"\nmodel-svc back: the whole list again {took:.0f} ms after /ready")
    assert healed.status_code == 200
    assert "x-bodhi-models-incomplete" not in healed.headers


def test_a_slow_link_is_slow_not_broken(faulty: Stack, admin: BodhiClient) -> None:
    """Expect: 100 ms of latency each way on the link to auth-svc and on Redis's (both used by
    every session call) slows answers down but changes none of them."""
    for name in ("auth", "redis"):
        faulty.proxies[name].latency(100)
    response = admin.http.get("/bodhi/v1/tokens", timeout=DEADLINE)
    assert response.status_code == 200, response.text
    assert admin.whoami()["auth_status"] == "logged_in"
    assert isinstance(httpx.get(f"{faulty.gateway_url}/bodhi/v1/info").json()["status"], str)
