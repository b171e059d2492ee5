"""Requests no client of ours sends (oversize bodies and headers, JSON that is not JSON, hostile
paths) get a clear 4xx with a stable code in the route's own error shape, never a 500."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from support import Stack, gateway_client

Client = httpx.AsyncClient
JSON = {"content-type": "application/json"}
SETUP = "/bodhi/v1/setup"


def code_of(response: httpx.Response) -> tuple[int, str]:
    """Status and stable code, in the OpenAI envelope or Ollama's shape."""
    error = response.json()["error"]
    return response.status_code, error["code"] if isinstance(error, dict) else response.json()[
        "code"
    ]


async def test_a_body_over_the_limit_is_413_whether_announced_or_streamed(client: Client) -> None:
    big = b'{"name": "' + b"a" * 70_000 + b'"}'

    async def chunks() -> object:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    announced = await client.post(SETUP, content=big, headers=JSON)
    streamed = await client.post(SETUP, content=chunks(), headers=JSON)  # no Content-Length
    for response in (announced, streamed):
        assert code_of(response) == (413, "request_too_large")


async def test_the_body_limit_is_a_setting(stack: Stack) -> None:
    async with gateway_client(stack, BODHI_MAX_BODY_BYTES="2048") as client:
        over = await client.post(SETUP, json={"name": "a" * 3000})
        under = await client.post(SETUP, json={"name": "a" * 1000})
    assert code_of(over) == (413, "request_too_large")
    assert under.status_code != 413


async def test_oversize_headers_are_431_in_each_routes_error_shape(client: Client) -> None:
    huge = {"x-padding": "a" * 40_000}
    bodhi = await client.get("/bodhi/v1/info", headers=huge)
    spread = await client.get("/bodhi/v1/info", headers={f"x-h{i}": "a" * 100 for i in range(400)})
    ollama = await client.get("/api/tags", headers=huge)
    assert code_of(bodhi) == (431, "request_headers_too_large")
    assert code_of(spread) == (431, "request_headers_too_large")
    assert code_of(ollama) == (431, "request_headers_too_large")
    assert isinstance(ollama.json()["error"], str)
    assert (await client.get("/bodhi/v1/info", headers={"x-padding": "a" * 8000})).is_success


@pytest.mark.parametrize(
    "body",
    [b"[" * 20_000, b'{"name": ' + b"[" * 20_000, b'{"name": "\xff\xfe"}', b'{"name": "\xc3"}'],
    ids=["deep array", "deep value", "invalid utf-8", "truncated utf-8"],
)
async def test_json_that_is_not_json_is_400_invalid_json(client: Client, body: bytes) -> None:
    for path in (SETUP, "/bodhi/v1/auth/callback"):
        response = await client.post(path, content=body, headers=JSON)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] in ("invalid_json", "invalid_request")


async def test_a_json_route_refuses_a_form_or_text_body_with_415(client: Client) -> None:
    for kind in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; b=x"):
        response = await client.post(
            SETUP, content=b'{"name": "x"}', headers={"content-type": kind}
        )
        assert code_of(response) == (415, "unsupported_media_type"), kind
    charset = await client.post(
        SETUP, content=b'{"name": 1}', headers={"content-type": "application/json; charset=utf-8"}
    )
    assert code_of(charset) == (400, "invalid_request")  # read as JSON, then validated


@pytest.mark.parametrize(
    "path",
    [
        "/bodhi/v1/models/a%00b",
        "/bodhi/v1/models/%2e%2e",
        "/bodhi/v1/modelfiles/pull/..",
        "/bodhi/v1/api-models/.",
        "/bodhi/v1/api-models/x%0d%0aSet-Cookie:%20a=b",
        "/v1/models/a/../../etc/passwd",
        "/bodhi/v1/models/%7f",
    ],
)
async def test_control_characters_and_dot_segments_in_a_path_are_400(
    client: Client, path: str
) -> None:
    status, body = await raw_get(client, path)
    assert status == 400, body
    assert b'"invalid_path"' in body


async def raw_get(client: Client, path: str) -> tuple[int, bytes]:
    """GET `path` exactly as written (httpx would resolve its dot segments first)."""
    url = client.base_url
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(f"GET {path} HTTP/1.1\r\nhost: {url.host}\r\nconnection: close\r\n\r\n".encode())
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_a_nul_in_a_path_parameter_never_reaches_a_service(client: Client) -> None:
    response = await client.get("/bodhi/v1/models/a%00b", headers={"authorization": "Bearer x"})
    assert code_of(response) == (400, "invalid_path")  # before the token is even checked
