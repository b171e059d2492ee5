"""The OpenAPI document declares how each operation is authenticated, and says what the guards
do: an operation that refuses a caller without credentials lists the schemes it accepts, one
that answers them lists none; a guard the document cannot read stops the app from starting."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from bodhi_devstack.proc import free_port
from gateway.openapi_security import document_security

from support import SERVICES, Stack, gateway_client

SESSION = [{"session": []}]
SESSION_OR_TOKEN = [{"session": []}, {"bearer": []}]
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with every service address pointing at nothing: guards answer without them,
    and public routes answer 4xx/5xx, never 401."""
    stack = Stack(redis_url=redis_url, addresses={n: f"127.0.0.1:{free_port()}" for n in SERVICES})
    async with gateway_client(stack) as client:
        yield client


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api-docs/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def security(document: dict[str, Any], method: str, path: str) -> Any:
    return document["paths"][path][method.lower()].get("security")


async def test_the_session_cookie_and_bearer_tokens_are_declared(document: dict[str, Any]) -> None:
    session, bearer = (document["components"]["securitySchemes"][n] for n in ("session", "bearer"))
    assert (session["type"], session["in"], session["name"]) == (
        "apiKey", "cookie", "bodhiapp_session_id"
    )  # fmt: skip
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")


async def test_an_operation_declares_security_exactly_when_it_refuses_anonymous_callers(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    undeclared, declared_but_open = [], []
    for method, path, operation in operations(document):
        target = re.sub(r"\{[^}]+\}", "1", path)
        status = (await client.request(method, target)).status_code
        if status == 401 and not operation.get("security"):
            undeclared.append(f"{method} {path}")
        if status != 401 and operation.get("security"):
            declared_but_open.append(f"{method} {path} ({status})")
    assert (undeclared, declared_but_open) == ([], [])
    assert any(op.get("security") for *_, op in operations(document))  # not all public


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v1/models", SESSION_OR_TOKEN),  # user_apis
        ("POST", "/bodhi/v1/models", SESSION_OR_TOKEN),  # power_user_apis
        ("POST", "/api/chat", SESSION_OR_TOKEN),  # Ollama's, guarded on a sub-router
        ("POST", "/bodhi/v1/tokens", SESSION),  # power_user_session_apis
        ("GET", "/bodhi/v1/settings", SESSION),  # admin_session_apis
        ("GET", "/bodhi/v1/users", SESSION),  # manager_session_apis
        ("GET", "/bodhi/v1/user/request-status", SESSION),  # checked by its handler
        ("GET", "/bodhi/v1/info", None),
        ("GET", "/bodhi/v1/user", None),  # optional: answers "logged out"
        ("POST", "/bodhi/v1/auth/initiate", None),
    ],
)
async def test_known_routes_accept_the_schemes_of_their_guard(
    document: dict[str, Any], method: str, path: str, expected: Any
) -> None:
    assert security(document, method, path) == expected


async def _unknown_guard(_: ASGIConnection[Any, Any, Any, Any], __: BaseRouteHandler) -> None:
    """A guard that is not a gateway.guards.Guard."""


@get("/guarded-elsewhere", guards=[_unknown_guard], sync_to_thread=False)
def guarded_elsewhere() -> str:
    return "ok"


def test_a_guard_the_document_cannot_read_is_an_error_not_a_public_route() -> None:
    with pytest.raises(RuntimeError, match="guard"):
        document_security(Litestar([guarded_elsewhere]))
