"""The proxy: routing by name, bodies forwarded as sent, streams relayed as they arrive,
upstream errors passed through, transport failures and cancellations handled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import msgspec
from huggingface_hub import hf_hub_download

from bodhi.aiproxy.v1 import aiproxy_pb2 as pb
from bodhi.model.v1 import model_pb2
from bodhi_devstack.hub import LocalHub
from bodhi_devstack.proc import free_port
from bodhi_devstack.upstream import Behaviour, LocalUpstream

from support import Services, as_user, as_user_to_model, chat, create_request, refusal, services

MD = as_user()
HI = [{"role": "user", "content": "hi"}]


async def _api_model(svc: Services, upstream: LocalUpstream, **fields: object) -> pb.ApiModel:
    reply = await svc.aiproxy.CreateApiModel(create_request(upstream.url, **fields), metadata=MD)
    return reply.api_model


async def test_prefix_routing_forwards_the_body_as_sent(
    svc: Services, upstream: LocalUpstream
) -> None:
    await _api_model(svc, upstream, prefix="up/")
    body = {"model": "up/gpt-test", "messages": [{"role": "user", "content": "hi"}], "top_k": 7}
    start, chunks = await chat(svc.aiproxy, body)
    assert start.http_status == 200
    assert start.upstream_ms > 0
    assert {h.name: h.value for h in start.headers}["content-type"].startswith("application/json")
    reply = msgspec.json.decode(b"".join(chunks))
    assert reply["choices"][0]["message"]["content"] == "echo: hi"
    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.json == {**body, "model": "gpt-test"}  # prefix stripped, top_k kept
    assert sent.headers["authorization"] == "Bearer sk-test"
    unprefixed = chat(svc.aiproxy, {"model": "gpt-test", "messages": HI})
    assert await refusal(unprefixed) == (grpc.StatusCode.NOT_FOUND, "model_not_found")


async def test_a_stream_is_relayed_chunk_by_chunk(svc: Services, upstream: LocalUpstream) -> None:
    await _api_model(svc, upstream, models=["slow"])
    upstream.behave("slow", Behaviour(chunks=4, chunk_delay=0.1))
    body = {"model": "slow", "stream": True, "messages": [{"role": "user", "content": "a b c d"}]}
    request = pb.ChatCompletionRequest(body=msgspec.json.encode(body), model="slow", stream=True)
    arrivals: list[float] = []
    parts: list[bytes] = []
    loop = asyncio.get_running_loop()
    async for part in svc.aiproxy.ChatCompletion(request, metadata=MD):
        if part.WhichOneof("part") == "body_chunk":
            arrivals.append(loop.time())
            parts.append(part.body_chunk)
    text = b"".join(parts)
    assert text.endswith(b"data: [DONE]\n\n")
    # Four content events 0.1 s apart arrive spread out, not in one piece at the end.
    assert len(arrivals) >= 4
    assert arrivals[-1] - arrivals[0] >= 0.25


async def test_upstream_errors_pass_through_with_their_body(
    svc: Services, upstream: LocalUpstream
) -> None:
    await _api_model(svc, upstream, models=["busy"])
    upstream.behave("busy", Behaviour(status=429, error_body=b'{"error":{"message":"slow down"}}'))
    start, chunks = await chat(svc.aiproxy, {"model": "busy", "messages": HI})
    assert start.http_status == 429
    assert b"".join(chunks) == b'{"error":{"message":"slow down"}}'


async def test_unknown_models_and_unreachable_providers(svc: Services) -> None:
    unknown = chat(svc.aiproxy, {"model": "nope", "messages": HI})
    assert await refusal(unknown) == (grpc.StatusCode.NOT_FOUND, "model_not_found")
    with LocalUpstream(api_key=None, models=["gone"]) as doomed:
        url = doomed.url
    await svc.aiproxy.CreateApiModel(create_request(url, models=["gone"]), metadata=MD)
    down = chat(svc.aiproxy, {"model": "gone", "messages": HI})
    assert await refusal(down) == (grpc.StatusCode.UNAVAILABLE, "upstream_unreachable")


async def test_a_silent_provider_times_out(svc: Services, upstream: LocalUpstream) -> None:
    await _api_model(svc, upstream, models=["mute"])
    upstream.behave("mute", Behaviour(delay=30))  # the service's read timeout here is 3 s
    call = chat(svc.aiproxy, {"model": "mute", "messages": HI})
    assert await refusal(asyncio.wait_for(call, 20)) == (
        grpc.StatusCode.DEADLINE_EXCEEDED, "upstream_timeout",
    )  # fmt: skip


async def test_a_cancelled_call_closes_the_upstream_connection(
    svc: Services, upstream: LocalUpstream
) -> None:
    await _api_model(svc, upstream, models=["stall"])
    upstream.behave("stall", Behaviour(chunks=5, stall_after=1))
    body = {"model": "stall", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    request = pb.ChatCompletionRequest(body=msgspec.json.encode(body), model="stall", stream=True)
    call = svc.aiproxy.ChatCompletion(request, metadata=MD)
    async for part in call:
        if part.WhichOneof("part") == "body_chunk":
            break  # the stream is flowing, then stalls; the client gives up
    call.cancel()
    record = upstream.requests[-1]
    closed = await asyncio.to_thread(upstream.wait_closed, record, 5.0)
    assert closed is not None, "the upstream connection stayed open after the caller left"


async def test_embeddings(svc: Services, upstream: LocalUpstream) -> None:
    await _api_model(svc, upstream, models=["text-embed"])
    body = {"model": "text-embed", "input": ["a", "b"]}
    request = pb.EmbeddingsRequest(body=msgspec.json.encode(body), model="text-embed")
    parts = [p async for p in svc.aiproxy.Embeddings(request, metadata=MD)]
    assert parts[0].start.http_status == 200
    assert len(msgspec.json.decode(b"".join(p.body_chunk for p in parts[1:]))["data"]) == 2
    assert upstream.requests[-1].path == "/v1/embeddings"


async def _local_alias(svc: Services, hub: LocalHub, hf_home: Path) -> None:
    hub.add_gguf("acme/tiny-GGUF", "tiny.Q8_0.gguf", name="tiny")
    await asyncio.to_thread(
        hf_hub_download, "acme/tiny-GGUF", "tiny.Q8_0.gguf", endpoint=hub.url,
        cache_dir=hf_home / "hub",
    )  # fmt: skip
    params = model_pb2.RequestParams(temperature=0.2, max_tokens=64, stop=["</s>"], seed=3)
    alias = model_pb2.CreateUserAliasRequest(
        alias="tiny:chat", repo="acme/tiny-GGUF", filename="tiny.Q8_0.gguf", request_params=params
    )
    await svc.model.CreateUserAlias(alias, metadata=as_user_to_model())


async def test_a_user_alias_goes_to_the_local_backend_with_its_defaults(
    svc: Services, backend: LocalUpstream, local_hub: LocalHub, tmp_path: Path
) -> None:
    await _local_alias(svc, local_hub, tmp_path / "hf")
    backend.behave("tiny:chat", Behaviour())
    body = {
        "model": "tiny:chat",
        "temperature": 0.9,
        "messages": [{"role": "user", "content": "q"}],
    }
    start, _ = await chat(svc.aiproxy, body)
    assert start.http_status == 200
    sent = backend.requests[-1]
    assert "authorization" not in sent.headers  # the local backend gets no provider key
    assert sent.json["temperature"] == 0.9  # the client's value wins
    assert sent.json["max_completion_tokens"] == 64
    assert sent.json["stop"] == ["</s>"]
    assert sent.json["seed"] == 3
    listed = await svc.aiproxy.ListModels(pb.ListModelsRequest(), metadata=MD)
    by_id = {m.id: m.source for m in listed.models}
    assert by_id["tiny:chat"] == pb.MODEL_SOURCE_USER
    assert by_id["acme/tiny-GGUF:Q8_0"] == pb.MODEL_SOURCE_MODEL


async def test_without_a_local_backend_local_models_answer_unavailable(
    databases: list[str], tmp_path: Path, local_hub: LocalHub
) -> None:
    async with services(databases, tmp_path / "hf", local_hub.url) as svc:
        await _local_alias(svc, local_hub, tmp_path / "hf")
        call = chat(svc.aiproxy, {"model": "tiny:chat", "messages": HI})
        assert await refusal(call) == (
            grpc.StatusCode.UNAVAILABLE, "local_backend_not_configured",
        )  # fmt: skip


async def test_list_models_names_every_routable_id(svc: Services, upstream: LocalUpstream) -> None:
    await _api_model(svc, upstream, models=["gpt-test", "text-embed"], prefix="up/")
    listed = await svc.aiproxy.ListModels(pb.ListModelsRequest(), metadata=MD)
    api = [m for m in listed.models if m.source == pb.MODEL_SOURCE_API]
    assert [m.id for m in api] == ["up/gpt-test", "up/text-embed"]
    for model in api:  # each listed id routes to the provider, which knows both names
        start, _ = await chat(svc.aiproxy, {"model": model.id, "messages": HI})
        assert start.http_status == 200


async def test_a_large_answer_travels_in_pieces(svc: Services, upstream: LocalUpstream) -> None:
    await _api_model(svc, upstream, models=["text-embed"])
    body = {"model": "text-embed", "input": ["x"] * 30_000}  # a few MiB of vectors
    request = pb.EmbeddingsRequest(body=msgspec.json.encode(body), model="text-embed")
    parts = [p async for p in svc.aiproxy.Embeddings(request, metadata=MD)]
    chunks = [p.body_chunk for p in parts[1:]]
    assert len(chunks) >= 2
    assert max(map(len, chunks)) <= 1 << 20
    assert len(msgspec.json.decode(b"".join(chunks))["data"]) == 30_000


async def test_without_model_svc_the_api_models_are_still_listed(
    databases: list[str], tmp_path: Path, local_hub: LocalHub, upstream: LocalUpstream
) -> None:
    """model-svc unreachable (nothing listens at its address): ListModels still names the API
    models, which route without it, and says the local aliases are missing, instead of failing
    the whole list (a client that only uses remote providers keeps working)."""
    nowhere = f"127.0.0.1:{free_port()}"
    async with services(
        databases, tmp_path / "hf", local_hub.url, BODHI_MODEL_ADDR=nowhere,
        BODHI_RPC_TIMEOUT_SECONDS="1",
    ) as svc:  # fmt: skip
        await _api_model(svc, upstream, prefix="up/")
        listed = await svc.aiproxy.ListModels(pb.ListModelsRequest(), metadata=MD)
    assert [m.id for m in listed.models] == ["up/gpt-test"]
    assert listed.local_unavailable
