"""Ollama ↔ OpenAI conversion: the SSE parser copes with any split of the byte stream, and the
NDJSON it makes carries the content, the finish reason, tool calls and usage."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from gateway import ollama

EVENTS = [
    {"choices": [{"delta": {"role": "assistant", "content": ""}}]},
    {"choices": [{"delta": {"content": "Hel"}}]},
    {"choices": [{"delta": {"content": "lo\n\nwörld"}}]},
    {"choices": [{"delta": {}, "finish_reason": "stop"}]},
    {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
]
STREAM = b"".join(b"data: " + msgspec.json.encode(e) + b"\r\n\r\n" for e in EVENTS)
STREAM = b": keep-alive comment\n\n" + STREAM + b"data: [DONE]\n\n"


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_events_survive_any_split_of_the_stream(cuts: list[int]) -> None:
    buffer = bytearray()
    data = [d for chunk in _split(STREAM, cuts) for d in ollama.sse_events(buffer, chunk)]
    assert data[-1] == "[DONE]"
    assert [msgspec.json.decode(d) for d in data[:-1]] == EVENTS


async def _lines(chunks: list[bytes]) -> list[dict[str, object]]:
    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    out = [line async for line in ollama.ndjson_stream("m", source(), 0, lambda: 1_000)]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in out)
    return [msgspec.json.decode(line) for line in out]


def test_the_ndjson_stream_carries_content_reason_and_usage() -> None:
    lines = asyncio.run(_lines(_split(STREAM, [7, 50, 51, 120])))
    assert "".join(line["message"]["content"] for line in lines) == "Hello\n\nwörld"  # type: ignore[index]
    assert [line["done"] for line in lines] == [False, False, True]
    assert lines[-1]["done_reason"] == "stop"
    assert (lines[-1]["prompt_eval_count"], lines[-1]["eval_count"]) == (3, 2)


def test_tool_calls_are_assembled_from_their_deltas() -> None:
    deltas = [
        {"index": 0, "id": "c1", "function": {"name": "look", "arguments": '{"q": '}},
        {"index": 0, "function": {"arguments": '"sky"}'}},
    ]
    events: list[object] = [{"choices": [{"delta": {"tool_calls": [d]}}]} for d in deltas]
    events.append({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]})
    stream = b"".join(b"data: " + msgspec.json.encode(e) + b"\n\n" for e in events)
    last = asyncio.run(_lines([stream]))[-1]
    assert last["message"]["tool_calls"] == [  # type: ignore[index]
        {"function": {"name": "look", "arguments": {"q": "sky"}}}
    ]
    assert last["done_reason"] == "tool_calls"


def test_requests_map_to_openai() -> None:
    request: dict[str, object] = {
        "model": "m", "format": "json", "keep_alive": "5m",
        "messages": [{"role": "system", "content": "s"}, {"role": "weird", "content": "u"}],
        "options": {"num_predict": 7, "temperature": 0.1, "top_k": 40, "stop": ["x"]},
    }  # fmt: skip
    asked = ollama.decode_chat(msgspec.json.encode(request))
    body = msgspec.json.decode(ollama.to_openai(asked))
    assert body["stream"] is True  # Ollama streams unless told not to
    assert body["stream_options"] == {"include_usage": True}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert (body["max_completion_tokens"], body["temperature"], body["stop"]) == (7, 0.1, ["x"])
    assert "top_k" not in body
    assert body["response_format"] == {"type": "json_object"}
