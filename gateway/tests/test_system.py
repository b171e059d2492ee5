"""Liveness, readiness, app info, setup, the error envelope and request ids, over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from bodhi_devstack.proc import free_port

from support import Stack, gateway_client

Client = httpx.AsyncClient


async def test_ping_and_health_answer_pong(client: Client) -> None:
    for path in ("/ping", "/health"):
        response = await client.get(path)
        assert (response.status_code, response.json()) == (200, {"message": "pong"})


async def test_info_reports_setup_on_a_new_install(client: Client) -> None:
    response = await client.get("/bodhi/v1/info")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "setup"
    assert body["version"]


async def test_ready_when_redis_and_every_service_answer(client: Client) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"redis": "ok", "auth": "ok", "secret": "ok", "model": "ok", "aiproxy": "ok"},
        "down": [],
    }


async def test_ready_names_a_service_that_is_down(stack: Stack) -> None:
    stack.addresses["model"] = f"127.0.0.1:{free_port()}"
    async with gateway_client(stack) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["down"] == ["model"]
    assert response.json()["checks"]["model"] == "unavailable"


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never says a word (a hung process)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    for writer in held:
        writer.close()


async def test_ready_answers_within_a_second_when_a_service_hangs(
    stack: Stack, silent_port: int
) -> None:
    stack.addresses["secret"] = f"127.0.0.1:{silent_port}"
    async with gateway_client(stack) as client:
        started = time.monotonic()
        response = await client.get("/ready")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["down"] == ["secret"]
    assert elapsed < 1.0


async def test_ready_names_redis_when_it_is_unreachable(stack: Stack) -> None:
    stack.redis_url = f"redis://127.0.0.1:{free_port()}/0"
    async with gateway_client(stack) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]


async def test_a_service_that_is_down_gives_a_503_envelope(stack: Stack) -> None:
    stack.addresses["auth"] = f"127.0.0.1:{free_port()}"
    async with gateway_client(stack) as client:
        response = await client.get("/bodhi/v1/info")
    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "message": "A service this request needs is unavailable"
            " (the auth service is unavailable, try again shortly).",
            "type": "service_unavailable",
            "code": "service_unavailable",
        }
    }


async def test_setup_validates_the_body_before_calling_anything(client: Client) -> None:
    response = await client.post("/bodhi/v1/setup", json={"name": "short"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_request",
        "name",
    )
    response = await client.post("/bodhi/v1/setup", json={"name": "a long enough name", "x": 1})
    assert response.status_code == 400
    response = await client.post("/bodhi/v1/setup", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


async def test_setup_without_an_identity_provider_is_a_clear_400(client: Client) -> None:
    response = await client.post("/bodhi/v1/setup", json={"name": "My Bodhi server"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_provider"


async def test_an_operation_a_service_does_not_offer_gives_a_501_envelope(stack: Stack) -> None:
    # A gateway newer than its auth-svc: the call reaches a server without that method.
    stack.addresses["auth"] = stack.addresses["model"]
    async with gateway_client(stack) as client:
        response = await client.get("/bodhi/v1/info")
    assert response.status_code == 501
    assert response.json()["error"] == {
        "message": "This operation is not available"
        " (the auth service does not offer this operation).",
        "type": "not_implemented_error",
        "code": "not_implemented",
    }


async def test_unknown_routes_and_methods_use_the_envelope(client: Client) -> None:
    response = await client.get("/bodhi/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "route_not_found"
    response = await client.delete("/bodhi/v1/info")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_request_ids_are_echoed_or_made(client: Client) -> None:
    response = await client.get("/ping", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    response = await client.get("/ping", headers={"x-request-id": "bad id with spaces"})
    assert response.headers["x-request-id"] != "bad id with spaces"
    assert len(response.headers["x-request-id"]) == 16


async def test_openapi_and_swagger_ui_are_served(client: Client) -> None:
    response = await client.get("/api-docs/openapi.json")
    assert response.status_code == 200
    assert "/bodhi/v1/info" in response.json()["paths"]
    response = await client.get("/swagger-ui", follow_redirects=True)
    assert response.status_code == 200
    assert "swagger" in response.text.lower()
