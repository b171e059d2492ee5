"""The Ollama API through the gateway, driven by the official `ollama` Python client: tags,
show and chat (streamed as newline-delimited JSON, and whole), errors with real statuses."""

from __future__ import annotations

from typing import Any

import httpx
import ollama
import pytest
from conftest import PROVIDER_KEY, cache_gguf

from bodhi_devstack.stack import Stack
from bodhi_devstack.upstream import Behaviour, LocalUpstream
from bodhi_e2e.client import BodhiClient

ASK = [{"role": "user", "content": "why is the sky blue"}]


@pytest.fixture(scope="module")
def token(admin: BodhiClient) -> str:
    return admin.create_token("scope_token_user", "ollama e2e")


@pytest.fixture(scope="module")
def local_alias(admin: BodhiClient, stack: Stack) -> str:
    cache_gguf(stack, "acme/olla-GGUF", "olla.Q8_0.gguf")
    alias = {
        "alias": "olla:chat", "repo": "acme/olla-GGUF", "filename": "olla.Q8_0.gguf",
        "request_params": {"temperature": 0.4},
    }  # fmt: skip
    created = admin.http.post("/bodhi/v1/models", json=alias)
    assert created.status_code in (200, 201), created.text
    return "olla:chat"


@pytest.fixture(scope="module")
def remote(admin: BodhiClient, provider: LocalUpstream) -> str:
    body = {
        "api_format": "openai", "base_url": provider.url, "api_key": PROVIDER_KEY,
        "models": ["olla-remote"], "prefix": "remote/",
    }  # fmt: skip
    assert admin.http.post("/bodhi/v1/api-models", json=body).status_code == 201
    provider.behave("olla-remote", Behaviour(chunks=4))
    return "remote/olla-remote"


@pytest.fixture
def client(stack: Stack, token: str) -> ollama.Client:
    return ollama.Client(host=stack.gateway_url, headers={"Authorization": f"Bearer {token}"})


def test_tags_and_show(client: ollama.Client, local_alias: str) -> None:
    listed = {m.model: m for m in client.list().models}
    assert local_alias in listed
    assert "acme/olla-GGUF:Q8_0" in listed  # derived from the cached file
    assert listed[local_alias].digest
    shown = client.show(local_alias)
    assert "temperature 0.4" in (shown.parameters or "")
    with pytest.raises(ollama.ResponseError) as missing:
        client.show("nope:latest")
    assert missing.value.status_code == 404


def test_streaming_chat_is_newline_delimited_json(
    stack: Stack, token: str, client: ollama.Client, remote: str
) -> None:
    parts = list(client.chat(model=remote, messages=ASK, stream=True))
    assert "".join(p.message.content or "" for p in parts) == "echo: why is the sky blue"
    assert [p.done for p in parts][-1] is True
    assert not any(p.done for p in parts[:-1])
    assert parts[-1].done_reason == "stop"
    assert (parts[-1].eval_count or 0) > 0  # usage carried over from the provider
    raw = httpx.post(
        f"{stack.gateway_url}/api/chat", json={"model": remote, "messages": ASK},
        headers={"Authorization": f"Bearer {token}"}, timeout=10,
    )  # fmt: skip
    assert raw.headers["content-type"].startswith("application/x-ndjson")
    assert not raw.text.startswith("data:")
    assert all(line.startswith("{") for line in raw.text.splitlines())


def test_whole_chat_and_local_models(
    client: ollama.Client, local_alias: str, llm_backend: LocalUpstream
) -> None:
    llm_backend.behave(local_alias, Behaviour())
    answer = client.chat(model=local_alias, messages=ASK, stream=False, options={"num_predict": 9})
    assert answer.message.content == "echo: why is the sky blue"
    assert answer.done
    sent: dict[str, Any] = llm_backend.requests[-1].json
    assert sent["max_completion_tokens"] == 9
    assert sent["temperature"] == 0.4  # the alias's default fills what the client left unset


def test_errors_have_real_statuses(client: ollama.Client, stack: Stack) -> None:
    with pytest.raises(ollama.ResponseError) as missing:
        client.chat(model="nope:latest", messages=ASK, stream=False)
    assert missing.value.status_code == 404
    stranger = ollama.Client(host=stack.gateway_url)
    with pytest.raises(ollama.ResponseError) as refused:
        stranger.list()
    assert refused.value.status_code == 401
