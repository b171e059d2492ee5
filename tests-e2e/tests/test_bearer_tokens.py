"""API tokens as bearer credentials (reliability-security.md A1, A3): a deactivated token stops
on every gateway instance within a second, a person who loses access loses their tokens too, and
a client sending invalid tokens is throttled without disturbing valid tokens."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from bodhi_devstack.proc import free_port
from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient, power_user

Browser = Callable[[], BodhiClient]
THROTTLE_KEY = "bodhi:bad-bearer:127.0.0.1"


def test_a_deactivated_token_stops_on_every_instance_within_a_second(
    admin: BodhiClient, browser: Browser, stack: Stack
) -> None:
    owner = power_user(admin, browser, "token-owner")
    token = owner.create_token("scope_token_user", name="everywhere")
    port = free_port()
    stack.extra_gateway(port)
    here = owner.with_bearer(token)
    there = BodhiClient(f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"})
    assert here.whoami()["auth_status"] == "api_token"
    assert there.whoami()["auth_status"] == "api_token"  # now cached on both instances
    token_id = owner.tokens()[0]["id"]
    assert owner.set_token_status(token_id, "inactive").status_code == 200
    time.sleep(1)
    assert here.http.get("/bodhi/v1/tokens").status_code == 401
    assert there.whoami() == {"auth_status": "logged_out"}
    assert owner.set_token_status(token_id, "active").status_code == 200
    assert there.whoami()["auth_status"] == "api_token"
    stack.children.pop(f"gateway-{port}").stop()


def test_removing_a_person_stops_their_tokens_and_sessions(
    admin: BodhiClient, browser: Browser
) -> None:
    leaver = power_user(admin, browser, "removed-person")
    token = leaver.create_token("scope_token_power_user")
    robot = leaver.with_bearer(token)
    assert robot.whoami()["role"] == "scope_token_power_user"
    user_id = leaver.whoami()["user_id"]
    assert admin.http.delete(f"/bodhi/v1/users/{user_id}").status_code == 200
    assert leaver.whoami() == {"auth_status": "logged_out"}
    response = robot.http.get("/bodhi/v1/tokens")
    assert (response.status_code, response.json()["error"]["code"]) == (
        401,
        "token_owner_no_access",
    )


def test_invalid_tokens_from_one_client_are_throttled_tokens_in_use_are_not(
    admin: BodhiClient, browser: Browser, stack: Stack
) -> None:
    owner = power_user(admin, browser, "throttle-witness")
    in_use = owner.create_token("scope_token_user", name="in use")
    never_used = owner.create_token("scope_token_user", name="never used")
    assert owner.with_bearer(in_use).whoami()["auth_status"] == "api_token"
    port = free_port()
    stack.extra_gateway(port)  # an instance that has cached nothing
    other = f"http://127.0.0.1:{port}"
    with redis.Redis.from_url(stack.redis_url) as store:
        store.delete(THROTTLE_KEY)  # earlier tests' failures from this address do not count
        statuses = []
        for i in range(30):
            forged = {"Authorization": f"Bearer bodhiapp_x{i}yz"}
            with BodhiClient(stack.gateway_url, headers=forged) as bad:
                statuses.append(bad.http.get("/bodhi/v1/tokens").status_code)
        assert statuses[:20] == [401] * 20
        assert set(statuses[20:]) == {429}
        # A token that worked before still works, even on an instance that never cached it...
        with BodhiClient(other, headers={"Authorization": f"Bearer {in_use}"}) as robot:
            assert robot.whoami()["auth_status"] == "api_token"
        # ...a token never seen waits out the minute, and a forged X-Forwarded-For changes nothing.
        for headers in ({}, {"X-Forwarded-For": "10.9.9.10"}):
            auth = {"Authorization": f"Bearer {never_used}", **headers}
            with BodhiClient(other, headers=auth) as fresh:
                assert fresh.http.get("/bodhi/v1/tokens").status_code == 429
        store.delete(THROTTLE_KEY)
    stack.children.pop(f"gateway-{port}").stop()
