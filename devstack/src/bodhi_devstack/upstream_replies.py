"""The OpenAI-shaped bodies the local upstream (`bodhi_devstack.upstream`) reads and answers:
chat completions (whole, streamed as server-sent events, tool calls), embeddings, model lists
and errors. Replies echo the last message (`echo: <content>`); tokens are counted as words."""

from __future__ import annotations

import base64
import hashlib
import itertools
import struct
import time
from typing import Any

import msgspec

CREATED = 1_700_000_000
TOOL_ARGUMENTS = '{"x": 1}'
DONE = b"data: [DONE]\n\n"
_encode = msgspec.json.encode


def error(message: str, code: str | None, kind: str = "invalid_request_error") -> bytes:
    return _encode({"error": {"message": message, "type": kind, "param": None, "code": code}})


def model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": CREATED, "owned_by": "local"}


def models_list(models: list[str]) -> bytes:
    return _encode({"object": "list", "data": [model_object(m) for m in models]})


def split(text: str, pieces: int) -> list[str]:
    """`text` in `pieces` consecutive parts of nearly equal length (some empty if it is short)."""
    size, extra = divmod(len(text), pieces)
    bounds = [i * size + min(i, extra) for i in range(pieces + 1)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _words(text: str) -> int:
    return len(text.split())


class ChatCall:
    """What a chat completion request asks for, as far as the upstream cares."""

    __slots__ = ("id", "include_usage", "model", "prompt_tokens", "reply", "stream", "tool")

    def __init__(self, n: int, body: dict[str, Any], model: str, messages: list[Any]) -> None:
        self.id = f"chatcmpl-{n}"
        self.model = model
        self.stream = body.get("stream") is True
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        self.reply = "echo: " + _text(last.get("content"))
        texts = (_text(m.get("content")) for m in messages if isinstance(m, dict))
        self.prompt_tokens = sum(_words(t) for t in texts)
        tools = body.get("tools")
        self.tool: str | None = None
        if isinstance(tools, list) and tools:
            function = tools[0].get("function") if isinstance(tools[0], dict) else None
            name = function.get("name") if isinstance(function, dict) else None
            self.tool = name if isinstance(name, str) else "tool"

    def usage(self) -> dict[str, int]:
        completion = _words(self.reply) if self.tool is None else 1
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def completion(self) -> bytes:
        """The whole (non-stream) chat.completion body."""
        message: dict[str, Any] = {"role": "assistant", "content": self.reply}
        finish = "stop"
        if self.tool is not None:
            call = self._call(TOOL_ARGUMENTS)
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            finish = "tool_calls"
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        return _encode(
            {**self._head("chat.completion"), "choices": [choice], "usage": self.usage()}
        )

    def events(self, chunks: int) -> list[bytes]:
        """The stream's events: the role event, `chunks` content events, the finish event, the
        usage event when asked for, then [DONE]."""
        head = self._head("chat.completion.chunk")
        if self.tool is None:
            first: dict[str, Any] = {"role": "assistant", "content": ""}
            deltas: list[dict[str, Any]] = [{"content": p} for p in split(self.reply, chunks)]
            finish = "stop"
        else:
            call = {"index": 0, **self._call("")}
            first = {"role": "assistant", "content": None, "tool_calls": [call]}
            pieces = split(TOOL_ARGUMENTS, chunks)
            deltas = [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces]
            finish = "tool_calls"
        events = [_event(head, first, None), *(_event(head, d, None) for d in deltas)]
        events.append(_event(head, {}, finish))
        if self.include_usage:
            events.append(_frame({**head, "choices": [], "usage": self.usage()}))
        events.append(DONE)
        return events

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": int(time.time()), "model": self.model}

    def _call(self, arguments: str) -> dict[str, Any]:
        function = {"name": self.tool, "arguments": arguments}
        return {"id": "call_1", "type": "function", "function": function}


def _frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + _encode(payload) + b"\n\n"


def _event(head: dict[str, Any], delta: dict[str, Any], finish: str | None) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return _frame({**head, "choices": [choice]})


def embedding_inputs(value: Any) -> list[str] | None:
    """The texts of an embeddings `input` (a string, strings, tokens or lists of tokens); None
    when it is none of these."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(v, str) for v in value):
        return value
    if all(isinstance(v, int) for v in value):
        return [repr(value)]
    if all(isinstance(v, list) for v in value):
        return [repr(v) for v in value]
    return None


def _vector(text: str) -> list[float]:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return [round(b / 127.5 - 1.0, 6) for b in digest]


def embeddings(model: str, texts: list[str], *, as_base64: bool) -> bytes:
    """Eight deterministic floats per text (base64 float32s when asked, as the SDK asks)."""
    data = []
    for i, text in enumerate(texts):
        vector: Any = _vector(text)
        if as_base64:
            vector = base64.b64encode(struct.pack("<8f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": vector})
    tokens = sum(_words(t) for t in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return _encode({"object": "list", "data": data, "model": model, "usage": usage})
