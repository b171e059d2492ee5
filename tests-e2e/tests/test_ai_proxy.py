"""Issue 6 through the gateway: a power user registers a remote provider; clients with an API
token use it through the official OpenAI SDK — models, chat, streams (sync and async, with
usage), tool calls, embeddings, errors as the SDK's exceptions — and local aliases go to the
local backend with their defaults. Streams arrive chunk by chunk, a client that leaves closes the
upstream, and the provider's key goes nowhere but to its own base URL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from conftest import PROVIDER_KEY, cache_gguf
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from bodhi_devstack.stack import Stack
from bodhi_devstack.upstream import Behaviour, LocalUpstream
from bodhi_e2e.client import BodhiClient

HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def api_model(admin: BodhiClient, provider: LocalUpstream, canaries: set[str]) -> dict[str, Any]:
    """The provider registered with prefix "e2e/" (every test below routes through it)."""
    canaries.add(PROVIDER_KEY)
    body = {
        "api_format": "openai", "base_url": provider.url, "api_key": PROVIDER_KEY,
        "models": [
            "gpt-e2e", "embed-e2e", "slow-e2e", "stall-e2e", "busy-e2e", "wait-e2e", "cut-e2e",
        ],
        "prefix": "e2e/",
    }  # fmt: skip
    created = admin.http.post("/bodhi/v1/api-models", json=body)
    assert created.status_code == 201, created.text
    assert PROVIDER_KEY not in created.text
    provider.behave("slow-e2e", Behaviour(chunks=5, chunk_delay=0.2))
    provider.behave("stall-e2e", Behaviour(chunks=5, stall_after=1))
    provider.behave("busy-e2e", Behaviour(status=429))
    provider.behave("wait-e2e", Behaviour(delay=30))
    provider.behave("cut-e2e", Behaviour(chunks=5, chunk_delay=0.05, disconnect_after=3))
    model: dict[str, Any] = created.json()
    return model


@pytest.fixture(scope="module")
def token(admin: BodhiClient) -> str:
    return admin.create_token("scope_token_user", "ai-proxy e2e")


@pytest.fixture
def sdk(stack: Stack, token: str, api_model: dict[str, Any]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=token, max_retries=0) as c:
        yield c


def test_api_models_are_managed_with_the_key_masked(
    admin: BodhiClient, api_model: dict[str, Any], provider: LocalUpstream
) -> None:
    assert api_model["api_key_masked"] == "sk-...cdef"
    assert api_model["base_url"] == provider.url
    listed = admin.http.get("/bodhi/v1/api-models")
    assert [m["id"] for m in listed.json()["data"]] == [api_model["id"]]
    assert admin.http.get("/bodhi/v1/api-models/api-formats").json() == {"data": ["openai"]}
    fetched = admin.http.post("/bodhi/v1/api-models/fetch-models", json={"id": api_model["id"]})
    assert fetched.json() == {"models": ["gpt-e2e", "embed-e2e"]}
    tested = admin.http.post(
        "/bodhi/v1/api-models/test",
        json={"id": api_model["id"], "model": "gpt-e2e", "prompt": "ping"},
    )
    assert tested.json() == {"success": True, "response": "echo: ping", "error": None}
    aliases = admin.http.get("/bodhi/v1/models", params={"page_size": 100}).json()["data"]
    api = [a for a in aliases if a["source"] == "api"]
    assert [a["id"] for a in api] == [api_model["id"]]
    assert "api_key" not in api[0]
    invalid = admin.http.post(
        "/bodhi/v1/api-models",
        json={"base_url": "file:///etc/passwd", "api_key": "k", "models": ["m"]},
    )
    assert invalid.status_code == 400
    assert invalid.json()["error"]["code"] == "invalid_base_url"
    for response in (listed, fetched, tested):
        assert PROVIDER_KEY not in response.text


def test_a_stored_key_is_never_sent_to_another_base_url(
    admin: BodhiClient, api_model: dict[str, Any]
) -> None:
    with LocalUpstream(api_key=None, models=["gpt-e2e"]) as thief:
        for path, extra in (("test", {"model": "gpt-e2e", "prompt": "hi"}), ("fetch-models", {})):
            body = {"id": api_model["id"], "base_url": thief.url, **extra}
            assert admin.http.post(f"/bodhi/v1/api-models/{path}", json=body).status_code == 200
        assert thief.requests == []


def test_the_openai_sdk_lists_chats_and_embeds(sdk: openai.OpenAI, provider: LocalUpstream) -> None:
    ids = {m.id for m in sdk.models.list()}
    assert {"e2e/gpt-e2e", "e2e/embed-e2e"} <= ids  # listed as routed: prefix included
    assert sdk.models.retrieve("e2e/gpt-e2e").owned_by == provider.url
    reply = sdk.chat.completions.create(
        model="e2e/gpt-e2e",
        messages=HI,
        extra_body={"top_k": 5},
    )
    assert reply.choices[0].message.content == "echo: hello there"
    sent = provider.requests[-1]
    assert sent.json["model"] == "gpt-e2e"
    assert sent.json["top_k"] == 5  # unknown fields survive
    assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    tool: ChatCompletionToolParam = {"type": "function", "function": {"name": "lookup"}}
    called = sdk.chat.completions.create(model="e2e/gpt-e2e", messages=HI, tools=[tool])
    calls = called.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls if c.type == "function"] == ["lookup"]
    embedded = sdk.embeddings.create(model="e2e/embed-e2e", input=["a", "b"])
    assert len(embedded.data) == 2


def test_streams_sync_and_async_with_usage(stack: Stack, token: str, sdk: openai.OpenAI) -> None:
    pieces = [
        c.choices[0].delta.content or ""
        for c in sdk.chat.completions.create(model="e2e/gpt-e2e", messages=HI, stream=True)
        if c.choices
    ]
    assert "".join(pieces) == "echo: hello there"

    async def async_stream() -> tuple[str, Any]:
        async with openai.AsyncOpenAI(
            base_url=f"{stack.gateway_url}/v1", api_key=token, max_retries=0
        ) as client:
            stream = await client.chat.completions.create(
                model="e2e/gpt-e2e", messages=HI, stream=True,
                stream_options={"include_usage": True},
            )  # fmt: skip
            text, usage = "", None
            async for chunk in stream:
                text += "".join(c.delta.content or "" for c in chunk.choices)
                usage = chunk.usage or usage
            return text, usage

    text, usage = asyncio.run(async_stream())
    assert text == "echo: hello there"
    assert usage is not None
    assert usage.total_tokens > 0


def test_errors_become_the_sdks_exceptions(sdk: openai.OpenAI, stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.chat.completions.create(model="no-such-model", messages=HI)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.RateLimitError):  # the provider's 429, passed through
        sdk.chat.completions.create(model="e2e/busy-e2e", messages=HI)
    with (
        openai.OpenAI(
            base_url=f"{stack.gateway_url}/v1", api_key="bodhiapp_nope", max_retries=0
        ) as stranger,
        pytest.raises(openai.AuthenticationError),
    ):
        stranger.models.list()
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="", messages=HI, extra_body={"model": 5})


def test_a_provider_that_is_down_is_a_clear_502(admin: BodhiClient, sdk: openai.OpenAI) -> None:
    with LocalUpstream(api_key=None, models=["gone-e2e"]) as doomed:
        url = doomed.url  # nothing listens there once the block ends
    body = {"base_url": url, "api_key": "sk-gone", "models": ["gone-e2e"]}
    assert admin.http.post("/bodhi/v1/api-models", json=body).status_code == 201
    with pytest.raises(openai.InternalServerError) as down:
        sdk.chat.completions.create(model="gone-e2e", messages=HI)
    assert down.value.status_code == 502
    assert down.value.code == "upstream_unreachable"
    assert url.split("//")[1] not in str(down.value.body)  # no addresses in errors


def test_chunks_arrive_as_the_provider_sends_them(stack: Stack, token: str) -> None:
    body = {"model": "e2e/slow-e2e", "messages": HI, "stream": True}
    arrivals: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "POST", f"{stack.gateway_url}/v1/chat/completions", json=body, headers=headers, timeout=10
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert float(response.headers["x-gateway-overhead-ms"]) >= 0
        assert len(response.headers.get_list("x-request-id")) == 1  # ours, not the provider's
        assert response.headers["x-upstream-request-id"].startswith("req-")
        for line in response.iter_lines():
            if line.startswith("data: {") and _content(line[6:]):
                arrivals.append(time.monotonic())
    # Five content events 0.2 s apart: had anything buffered them they would land together.
    assert len(arrivals) == 5
    assert arrivals[-1] - arrivals[0] >= 0.6


def _content(event: str) -> str:
    choices = json.loads(event).get("choices") or [{}]
    return str(choices[0].get("delta", {}).get("content") or "")


def test_a_provider_that_drops_mid_stream_ends_it_with_an_error_event(
    stack: Stack, token: str
) -> None:
    body = {"model": "e2e/cut-e2e", "messages": HI, "stream": True}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "POST", f"{stack.gateway_url}/v1/chat/completions", json=body, headers=headers, timeout=10
    ) as response:
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert len(events) >= 2  # what came before the cut was relayed
    assert json.loads(events[-1])["error"]["code"] == "upstream_unreachable"


def test_streamed_tool_calls_reach_the_sdk(sdk: openai.OpenAI) -> None:
    tool: ChatCompletionToolParam = {"type": "function", "function": {"name": "lookup"}}
    name, arguments = "", ""
    for chunk in sdk.chat.completions.create(
        model="e2e/gpt-e2e", messages=HI, tools=[tool], stream=True
    ):
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name += (call.function.name or "") if call.function else ""
            arguments += (call.function.arguments or "") if call.function else ""
    assert name == "lookup"
    assert json.loads(arguments) == {"x": 1}


def test_a_client_that_leaves_closes_the_upstream(
    stack: Stack, token: str, provider: LocalUpstream, api_model: dict[str, Any]
) -> None:
    body = {"model": "e2e/stall-e2e", "messages": HI, "stream": True}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "POST", f"{stack.gateway_url}/v1/chat/completions", json=body, headers=headers, timeout=10
    ) as response:
        next(response.iter_raw())  # the stream flows, then the provider stalls
        record = provider.requests[-1]
    left = time.monotonic()
    closed = provider.wait_closed(record, 5.0)
    assert closed is not None, "the upstream request outlived the client"
    print(f"client left -> upstream closed: {(closed - left) * 1000:.1f} ms")


def test_a_client_that_stops_waiting_closes_the_upstream(
    stack: Stack, token: str, provider: LocalUpstream, api_model: dict[str, Any]
) -> None:
    body = {"model": "e2e/wait-e2e", "messages": HI}  # not streamed: the provider thinks long
    headers = {"Authorization": f"Bearer {token}"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{stack.gateway_url}/v1/chat/completions", json=body, headers=headers, timeout=0.5
        )
    record = next(r for r in reversed(provider.requests) if r.json["model"] == "wait-e2e")
    assert provider.wait_closed(record, 5.0) is not None, "the upstream outlived the client"


def test_local_aliases_reach_the_local_backend_with_their_defaults(
    admin: BodhiClient, stack: Stack, sdk: openai.OpenAI, llm_backend: LocalUpstream
) -> None:
    cache_gguf(stack, "acme/local-GGUF", "local.Q4_0.gguf")
    alias = {
        "alias": "local:chat", "repo": "acme/local-GGUF", "filename": "local.Q4_0.gguf",
        "request_params": {"temperature": 0.3, "max_tokens": 32, "stop": ["END"]},
    }  # fmt: skip
    assert admin.http.post("/bodhi/v1/models", json=alias).status_code == 201
    llm_backend.behave("local:chat", Behaviour())
    reply = sdk.chat.completions.create(model="local:chat", messages=HI, temperature=1.0)
    assert reply.choices[0].message.content == "echo: hello there"
    sent = llm_backend.requests[-1].json
    assert (sent["temperature"], sent["max_completion_tokens"], sent["stop"]) == (1.0, 32, ["END"])
    assert "authorization" not in llm_backend.requests[-1].headers
    assert "local:chat" in {m.id for m in sdk.models.list()}
