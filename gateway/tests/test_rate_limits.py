"""Per-client rate limits, counted in Redis: invalid bearer tokens and failed logins per client
address (shared by every gateway instance, with Retry-After), expensive calls per person, and
what happens while Redis is gone (nobody is refused)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bodhi_common.clock import SystemClock
from bodhi_devstack.proc import free_port
from gateway.rate_limits import RateLimited, RateLimits

from support import Stack, gateway_client

LIMIT = "3"


async def test_invalid_bearer_tokens_are_throttled_across_instances(stack: Stack) -> None:
    async with (
        gateway_client(stack, BODHI_INVALID_BEARER_LIMIT=LIMIT) as one,
        gateway_client(stack, BODHI_INVALID_BEARER_LIMIT=LIMIT) as other,
    ):
        statuses = []
        for i in range(3):
            bad = {"authorization": f"Bearer bodhiapp_forged{i}"}
            statuses.append((await one.get("/bodhi/v1/tokens", headers=bad)).status_code)
        refused = await other.get("/bodhi/v1/tokens", headers={"authorization": "Bearer next"})
        ollama = await other.get("/api/tags", headers={"authorization": "Bearer next"})
    assert statuses == [401, 401, 401]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_invalid_tokens"
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert (ollama.status_code, ollama.json()["code"]) == (429, "too_many_invalid_tokens")
    assert 0 < int(ollama.headers["retry-after"]) <= 60


async def test_failed_login_callbacks_are_throttled_before_the_provider_is_asked(
    stack: Stack,
) -> None:
    forged = {"code": "forged", "state": "forged"}
    async with gateway_client(stack, BODHI_FAILED_LOGIN_LIMIT=LIMIT) as client:
        failures = [await client.post("/bodhi/v1/auth/callback", json=forged) for _ in range(3)]
        refused = await client.post("/bodhi/v1/auth/callback", json=forged)
        page = await client.get("/ui/auth/callback", params=forged)
    assert all(400 <= r.status_code < 500 and r.status_code != 429 for r in failures)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_failed_logins"
    assert 0 < int(refused.headers["retry-after"]) <= 300
    assert page.status_code == 429
    assert "too_many_failed_logins" in page.text


async def test_without_redis_nobody_is_refused(stack: Stack) -> None:
    stack.redis_url = f"redis://127.0.0.1:{free_port()}/0"
    async with gateway_client(stack, BODHI_INVALID_BEARER_LIMIT="1") as client:
        for i in range(4):
            bad = {"authorization": f"Bearer bodhiapp_forged{i}"}
            response = await client.get("/bodhi/v1/tokens", headers=bad)
            assert (response.status_code, response.json()["error"]["code"]) == (
                401,
                "token_invalid",
            )


async def test_a_person_over_an_expensive_limit_waits_out_the_window(
    stack: Stack, redis_url: str
) -> None:
    redis = Redis.from_url(redis_url)
    limits = RateLimits(redis, SystemClock(), stack.settings(BODHI_PULL_LIMIT="2"))
    await limits.spend(limits.pulls, "alice")
    await limits.spend(limits.pulls, "alice")
    await limits.spend(limits.pulls, "bob")  # each person has their own window
    with pytest.raises(RateLimited) as refused:
        await limits.spend(limits.pulls, "alice")
    assert refused.value.code == "too_many_pulls"
    assert 0 < refused.value.retry_after <= 60
    await limits.spend(limits.provider_checks, "alice")  # and each limit its own count
    await redis.aclose()


async def test_an_unreachable_redis_refuses_no_expensive_call_and_no_token(stack: Stack) -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    limits = RateLimits(dead, SystemClock(), stack.settings(BODHI_PULL_LIMIT="1"))
    for _ in range(5):
        await limits.spend(limits.pulls, "alice")  # never refused
    assert await limits.bearer_blocked("127.0.0.1", "digest") == 0
    await dead.aclose()
