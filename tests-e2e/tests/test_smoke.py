"""The walking skeleton, end to end: the stack comes up ready, names a service that goes down
and recovers when it is back."""

from __future__ import annotations

import http.client
import signal
import time

from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient


def test_the_stack_is_ready(bodhi: BodhiClient) -> None:
    response = bodhi.readiness()
    assert response.status_code == 200
    assert response.json()["down"] == []


def test_a_killed_service_is_named_by_ready_and_recovers(stack: Stack, bodhi: BodhiClient) -> None:
    stack.children["model"].send_signal(signal.SIGKILL)
    response = bodhi.wait_until(ready=False)
    assert response.status_code == 503
    assert response.json()["down"] == ["model"]
    stack.restart("model")
    assert bodhi.wait_until(ready=True).status_code == 200


def test_a_killed_auth_service_gives_503_not_500(stack: Stack, bodhi: BodhiClient) -> None:
    stack.children["auth"].send_signal(signal.SIGKILL)
    bodhi.wait_until(ready=False)
    response = bodhi.http.get("/bodhi/v1/info")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    stack.restart("auth")
    bodhi.wait_until(ready=True)
    assert bodhi.app_info()["version"]


def test_an_idle_connection_outlives_the_clients_own_keep_alive(stack: Stack) -> None:
    """Clients (httpx, the OpenAI SDK) reuse a connection idle for up to 5 s; the gateway keeps
    it longer (BODHI_KEEP_ALIVE_SECONDS, 75 s), so a request sent on it after 6 s idle is
    answered, not met by a closed socket (uvicorn's 5 s default raced the clients')."""
    host, port = stack.gateway_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/ping")
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, b'{"message":"pong"}')
        sock = conn.sock
        time.sleep(6)
        conn.request("GET", "/ping")  # on the same socket: a closed one fails here or below
        second = conn.getresponse()
        assert (second.status, second.read()) == (200, b'{"message":"pong"}')
        assert conn.sock is sock
    finally:
        conn.close()
