"""Ollama ↔ OpenAI: chat requests and answers converted both ways (reference §8.5, its quirks
fixed): newline-delimited JSON streams like a real Ollama server, a real SSE parser (events may
span or share network chunks), `[DONE]` understood, usage carried into the counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from bodhi_common.errors import InvalidArgument, ServiceError
from gateway.hostile import not_json

_ROLES = {"assistant": "assistant", "system": "system", "tool": "tool"}
_OPTIONS = ("temperature", "top_p", "seed", "stop", "presence_penalty", "frequency_penalty")


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """One Ollama chat message."""

    role: str
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An Ollama chat request (fields Ollama has and we cannot use are accepted and ignored)."""

    model: str
    messages: list[Message] = msgspec.field(default_factory=list)
    stream: bool = True  # Ollama streams unless told not to
    format: str | dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    keep_alive: str | int | float | None = None
    think: bool | str | None = None


def now() -> str:
    """The current time as Ollama writes it."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def decode_chat(body: bytes) -> ChatRequest:
    """An Ollama chat request, or a clear 400."""
    try:
        return msgspec.json.decode(body, type=ChatRequest)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise InvalidArgument(f"invalid chat request: {err}", code="invalid_request") from None
    except (UnicodeDecodeError, RecursionError) as err:
        raise not_json(err) from None


def to_openai(chat: ChatRequest) -> bytes:
    """The OpenAI chat completion request for an Ollama one."""
    options = chat.options or {}
    body: dict[str, Any] = {
        "model": chat.model,
        "messages": [_message(m) for m in chat.messages],
        "stream": chat.stream,
    }
    if chat.stream:
        body["stream_options"] = {"include_usage": True}
    body.update({k: options[k] for k in _OPTIONS if options.get(k) is not None})
    if options.get("num_predict") is not None:
        body["max_completion_tokens"] = options["num_predict"]
    if chat.format in ("json", "json_object"):
        body["response_format"] = {"type": "json_object"}
    elif isinstance(chat.format, dict):
        schema = {"name": "response", "schema": chat.format}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    if chat.tools:
        body["tools"] = chat.tools
    return msgspec.json.encode(body)


def _message(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": _ROLES.get(m.role, "user"), "content": m.content}
    if m.images:
        parts: list[dict[str, Any]] = [{"type": "text", "text": m.content}]
        parts += [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{i}"}}
            for i in m.images
        ]
        out["content"] = parts
    if m.tool_calls:
        out["tool_calls"] = [_openai_tool_call(i, c) for i, c in enumerate(m.tool_calls)]
    return out


def _openai_tool_call(index: int, call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments", {})
    text = arguments if isinstance(arguments, str) else msgspec.json.encode(arguments).decode()
    name = function.get("name", "")
    return {
        "id": f"call_{index}",
        "type": "function",
        "function": {"name": name, "arguments": text},
    }


def _ollama_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for call in calls:
        function = call.get("function") or {}
        raw = function.get("arguments") or "{}"
        try:
            arguments = msgspec.json.decode(raw) if isinstance(raw, str) else raw
        except msgspec.DecodeError:
            arguments = {"_raw": raw}
        out.append({"function": {"name": function.get("name", ""), "arguments": arguments}})
    return out


def _done(model: str, reason: str | None, usage: Any, nanos: int) -> dict[str, Any]:
    usage = usage if isinstance(usage, dict) else {}
    return {
        "model": model, "created_at": now(),
        "message": {"role": "assistant", "content": ""},
        "done_reason": reason or "stop", "done": True, "total_duration": nanos,
        "load_duration": 0, "prompt_eval_count": usage.get("prompt_tokens", 0),
        "prompt_eval_duration": 0, "eval_count": usage.get("completion_tokens", 0),
        "eval_duration": 0,
    }  # fmt: skip


def from_openai(model: str, answer: Any, nanos: int) -> dict[str, Any]:
    """The Ollama chat answer for a whole OpenAI one."""
    try:
        choice = answer["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("the model's answer has no message") from None
    done = _done(model, choice.get("finish_reason"), answer.get("usage"), nanos)
    done["message"] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("tool_calls"):
        done["message"]["tool_calls"] = _ollama_tool_calls(message["tool_calls"])
    return done


def sse_events(buffer: bytearray, chunk: bytes) -> Iterator[str]:
    """Append `chunk` to `buffer` and yield the data of every event now complete (per the SSE
    rules: events end at a blank line; data lines are joined; comments and fields we do not use
    are skipped)."""
    buffer += chunk
    # Normalised on the buffer, not the chunk: a CRLF may be split across two chunks.
    buffer[:] = buffer.replace(b"\r\n", b"\n")
    while True:
        end = buffer.find(b"\n\n")
        if end < 0:
            return
        raw = bytes(buffer[:end])
        del buffer[: end + 2]
        data = [
            line[5:].removeprefix(b" ") for line in raw.split(b"\n") if line.startswith(b"data:")
        ]
        if data:
            yield b"\n".join(data).decode()


async def ndjson_stream(
    model: str, chunks: AsyncIterator[bytes], started: int, clock_ns: Any
) -> AsyncIterator[bytes]:
    """An OpenAI event stream as Ollama's newline-delimited JSON, ending with a done line."""
    buffer = bytearray()
    reason: str | None = None
    usage: Any = None
    tool_calls: dict[int, dict[str, Any]] = {}
    async for chunk in chunks:
        for data in sse_events(buffer, chunk):
            if data.strip() == "[DONE]":
                continue
            try:
                event = msgspec.json.decode(data)
            except msgspec.DecodeError:
                continue
            if isinstance(event, dict) and "error" in event:
                yield _line({"error": _error_text(event["error"])})
                return
            usage = event.get("usage") or usage
            for choice in event.get("choices") or []:
                reason = choice.get("finish_reason") or reason
                delta = choice.get("delta") or {}
                _collect_tool_calls(tool_calls, delta.get("tool_calls") or [])
                if delta.get("content"):
                    yield _line({
                        "model": model, "created_at": now(),
                        "message": {"role": "assistant", "content": delta["content"]},
                        "done": False,
                    })  # fmt: skip
    done = _done(model, reason, usage, clock_ns() - started)
    if tool_calls:
        done["message"]["tool_calls"] = _ollama_tool_calls(
            [tool_calls[i] for i in sorted(tool_calls)]
        )
    yield _line(done)


def _collect_tool_calls(calls: dict[int, dict[str, Any]], deltas: list[dict[str, Any]]) -> None:
    for delta in deltas:
        call = calls.setdefault(delta.get("index", 0), {"function": {"name": "", "arguments": ""}})
        function = delta.get("function") or {}
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def error_text(body: bytes) -> str:
    """The message of an upstream error body, whatever its shape."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body.decode(errors="replace")[:500] or "the model server failed"
    if isinstance(value, dict) and "error" in value:
        return _error_text(value["error"])
    return str(value)[:500]


def error_line(err: ServiceError) -> bytes:
    """A failure after the stream began, as Ollama reports one."""
    return _line({"error": err.message})


def _line(value: dict[str, Any]) -> bytes:
    return msgspec.json.encode(value) + b"\n"
