"""The local OpenAI-compatible upstream's API, seen by real clients (the openai SDK and httpx);
the helpers here serve test_upstream_faults too."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from bodhi_devstack.upstream import Behaviour, LocalUpstream, UpstreamRequest

KEY = "sk-test"
AUTH = {"authorization": f"Bearer {KEY}"}
NO_HANG = 2.0  # seconds: only a hung or missed disconnect takes this long
_names = itertools.count()


@pytest.fixture(scope="module")
def up() -> Iterator[LocalUpstream]:
    with LocalUpstream(api_key=KEY, models=["gpt-test", "text-embed"]) as started:
        yield started


@pytest.fixture
def sdk(up: LocalUpstream) -> Iterator[openai.OpenAI]:
    with client_for(up) as client:
        yield client


def client_for(up: LocalUpstream) -> openai.OpenAI:
    """The SDK pointed at `up`, without retries (so a fault shows instead of being retried)."""
    return openai.OpenAI(base_url=up.url, api_key=KEY, max_retries=0, timeout=10)


def behaving(up: LocalUpstream, behaviour: Behaviour) -> str:
    """A model no other test uses, answered with `behaviour`."""
    model = f"m{next(_names)}"
    up.behave(model, behaviour)
    return model


def chat(model: str, text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def record_of(up: LocalUpstream, model: str) -> UpstreamRequest:
    """The last request the upstream received for `model`."""
    return next(r for r in reversed(up.requests) if (r.json or {}).get("model") == model)


def events(body: str) -> list[Any]:
    """The data of each server-sent event: parsed JSON, or the literal [DONE]."""
    assert body.endswith("\n\n")
    datas = [block.removeprefix("data: ") for block in body[:-2].split("\n\n")]
    return [d if d == "[DONE]" else json.loads(d) for d in datas]


def test_a_wrong_or_missing_key_is_refused(up: LocalUpstream) -> None:
    for headers in ({}, {"authorization": "Bearer sk-wrong"}):
        response = httpx.post(f"{up.url}/chat/completions", json=chat("gpt-test"), headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "error": {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=up.url, api_key="sk-wrong", max_retries=0).models.list()


def test_models_are_listed_with_or_without_the_v1_prefix(
    up: LocalUpstream, sdk: openai.OpenAI
) -> None:
    assert [m.id for m in sdk.models.list()] == ["gpt-test", "text-embed"]
    body = httpx.get(f"{up.origin}/models", headers=AUTH).json()
    assert body["object"] == "list"
    assert body["data"][0] == {
        "id": "gpt-test",
        "object": "model",
        "created": 1700000000,
        "owned_by": "local",
    }
    assert sdk.models.retrieve("text-embed").id == "text-embed"


def test_a_whole_chat_echoes_the_last_message(up: LocalUpstream, sdk: openai.OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="gpt-test",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    )
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["x-upstream"] == "local"
    assert raw.headers["x-request-id"].startswith("req-")
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-test"
    assert completion.choices[0].message.content == "echo: hi"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 5  # "be brief" + "hi"; "echo: hi"
    seen = up.requests[-1]
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.json["messages"][1]["content"] == "hi"
    assert seen.finished
    assert seen.closed_at is None
    assert up.wait_closed(seen, timeout=NO_HANG) is None


def test_a_streamed_chat_comes_in_order_and_ends_with_done(up: LocalUpstream) -> None:
    model = behaving(up, Behaviour(chunks=4))
    response = httpx.post(f"{up.url}/chat/completions", json=chat(model, stream=True), headers=AUTH)
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["transfer-encoding"] == "chunked"
    got = events(response.text)
    assert got[-1] == "[DONE]"
    assert [e["object"] for e in got[:-1]] == ["chat.completion.chunk"] * 6
    deltas = [e["choices"][0]["delta"] for e in got[:-1]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d["content"] for d in deltas[1:5]) == "echo: hello there"
    assert deltas[5] == {}
    assert [e["choices"][0]["finish_reason"] for e in got[:-1]] == [None] * 5 + ["stop"]
    assert len(record_of(up, model).chunk_times) == 7  # one write per event


def test_include_usage_adds_a_usage_chunk_before_done(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            **chat("gpt-test", "one two three"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 3
    assert all(c.usage is None for c in chunks[:-1])


def test_a_request_with_tools_gets_a_tool_call(sdk: openai.OpenAI) -> None:
    tools: Any = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    whole = sdk.chat.completions.create(**chat("gpt-test"), tools=tools)
    assert whole.choices[0].finish_reason == "tool_calls"
    message = whole.choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert (call.id, call.type) == ("call_1", "function")
    assert call.function.name == "lookup"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"x": 1}  # type: ignore[union-attr]
    parts = list(sdk.chat.completions.create(**chat("gpt-test"), tools=tools, stream=True))
    first = parts[0].choices[0].delta.tool_calls
    assert first is not None
    assert first[0].id == "call_1"
    assert first[0].function is not None
    assert first[0].function.name == "lookup"
    arguments = "".join(
        (p.choices[0].delta.tool_calls or [])[0].function.arguments or ""  # type: ignore[union-attr]
        for p in parts[1:-1]
    )
    assert json.loads(arguments) == {"x": 1}
    assert parts[-1].choices[0].finish_reason == "tool_calls"


def test_embeddings_are_deterministic_per_input(up: LocalUpstream, sdk: openai.OpenAI) -> None:
    # The SDK asks for base64 and decodes it; httpx gets plain floats.
    result = sdk.embeddings.create(model="text-embed", input=["a", "b", "a"])
    vectors = [d.embedding for d in result.data]
    assert [len(v) for v in vectors] == [8, 8, 8]
    assert vectors[0] == vectors[2] != vectors[1]
    assert result.usage.prompt_tokens == 3
    body = {"model": "text-embed", "input": "a"}
    plain = httpx.post(f"{up.url}/embeddings", json=body, headers=AUTH).json()
    assert plain["object"] == "list"
    assert plain["data"][0]["index"] == 0
    assert plain["data"][0]["embedding"] == pytest.approx(vectors[0], abs=1e-6)


def test_unknown_models_and_bad_bodies_get_openai_errors(
    up: LocalUpstream, sdk: openai.OpenAI
) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.chat.completions.create(**chat("no-such-model"))
    assert missing.value.code == "model_not_found"
    assert missing.value.message.endswith("The model `no-such-model` does not exist")
    url = f"{up.url}/chat/completions"
    broken = httpx.post(url, content=b"{not json", headers=AUTH)
    assert broken.status_code == 400
    assert broken.json()["error"]["type"] == "invalid_request_error"
    assert up.requests[-1].json is None
    assert httpx.get(f"{up.url}/nowhere", headers=AUTH).status_code == 404
