"""The local upstream's HTTP side (`bodhi_devstack.upstream`): a raw ASGI app over the local
Hub's protocol (uvicorn's httptools one, subclassed to notice a lost connection and reset it).

Routes, with or without the `/v1` prefix: `GET /models`, `GET /models/{id}`,
`POST /chat/completions` (whole or streamed) and `POST /embeddings`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec

from bodhi_devstack.hub_http import _CONNECTION, HubProtocol, Receive, Scope, Send
from bodhi_devstack.upstream_replies import (
    ChatCall,
    embedding_inputs,
    embeddings,
    error,
    model_object,
    models_list,
)
from bodhi_devstack.upstream_state import NORMAL, Behaviour, Progress, UpstreamState

LOG = logging.getLogger("bodhi_devstack.upstream")
_JSON = (b"content-type", b"application/json")
_SSE = (b"content-type", b"text/event-stream")
_NO_CACHE = (b"cache-control", b"no-cache")
_LOCAL = (b"x-upstream", b"local")
_BAD_KEY = error("Incorrect API key provided", "invalid_api_key")
_NOT_JSON = error("We could not parse the JSON body of your request.", None)


class UpstreamProtocol(HubProtocol):
    """The Hub's protocol, remembering when its connection went; logs to the upstream's logger."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = LOG
        self.lost_at = 0.0

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost_at = time.monotonic()
        super().connection_lost(exc)


class Exchange:
    """One request's response: writes, sleeps and stalls that notice a client going away, and
    record how far they got."""

    __slots__ = ("conn", "headers", "progress", "send")

    def __init__(self, send: Send, conn: UpstreamProtocol, progress: Progress, n: int) -> None:
        self.send = send
        self.conn = conn
        self.progress = progress
        self.headers = [(b"x-request-id", b"req-%d" % n), _LOCAL]

    async def answer(self, status: int, body: bytes) -> None:
        headers = [*self.headers, _JSON, (b"content-length", b"%d" % len(body))]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
        self.progress.chunk(time.monotonic())
        self._settle()

    async def start_stream(self) -> None:
        headers = [*self.headers, _SSE, _NO_CACHE]
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})

    async def write(self, event: bytes) -> bool:
        """Send one body chunk; False (the close recorded) when the client is gone."""
        await self.send({"type": "http.response.body", "body": event, "more_body": True})
        if self.conn.lost.is_set():
            self._settle()
            return False
        self.progress.chunk(time.monotonic())
        return True

    async def end(self) -> None:
        await self.send({"type": "http.response.body", "body": b""})
        self._settle()

    async def sleep(self, seconds: float) -> bool:
        """Sleep; False (the close recorded) when the client went away meanwhile."""
        if seconds and await self.conn.sleep(seconds):
            self._settle()
            return False
        return True

    async def hold(self) -> None:
        """Write nothing more until the client goes."""
        await self.conn.lost.wait()
        self._settle()

    async def reset(self) -> None:
        self.conn.reset()
        await self.hold()

    def _settle(self) -> None:
        if self.conn.lost.is_set():
            self.progress.close(self.conn.lost_at)
        else:
            self.progress.finish()


class UpstreamApp:
    """The ASGI app: records each request, checks the key, routes."""

    def __init__(self, state: UpstreamState) -> None:
        self.state = state
        self._models = models_list(state.models)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        at = time.monotonic()
        body = await _read(receive)
        if body is None:  # the client left before its body arrived
            return
        parsed = _parse(body)
        n = self.state.next_id()
        progress = self.state.log(scope, body, parsed, at)
        exchange = Exchange(send, scope["state"][_CONNECTION], progress, n)
        key = self.state.authorization
        if key is not None and _authorization(scope) != key:
            await exchange.answer(401, _BAD_KEY)
            return
        await self._route(exchange, scope, n, parsed)

    async def _route(self, ex: Exchange, scope: Scope, n: int, body: Any) -> None:
        method, path = scope["method"], scope["path"]
        endpoint = path[3:] if path.startswith("/v1/") else path
        if method == "POST" and endpoint == "/chat/completions":
            await self._chat(ex, n, body)
        elif method == "POST" and endpoint == "/embeddings":
            await self._embeddings(ex, body)
        elif method == "GET" and endpoint == "/models":
            await ex.answer(200, self._models)
        elif method == "GET" and endpoint.startswith("/models/"):
            await self._model(ex, endpoint[8:])
        else:
            await ex.answer(404, error(f"Invalid URL ({method} {path})", None))

    async def _model(self, ex: Exchange, model: str) -> None:
        if model in self.state.models:
            await ex.answer(200, msgspec.json.encode(model_object(model)))
        else:
            await ex.answer(404, _no_model(model))

    async def _chat(self, ex: Exchange, n: int, body: Any) -> None:
        ready = await self._prepare(ex, body, "messages", _messages)
        if ready is not None:
            model, behaviour, messages = ready
            call = ChatCall(n, body, model, messages)
            if call.stream:
                await _stream(ex, call, behaviour)
            else:
                await _whole(ex, call.completion, behaviour)

    async def _embeddings(self, ex: Exchange, body: Any) -> None:
        ready = await self._prepare(ex, body, "input", embedding_inputs)
        if ready is not None:
            model, behaviour, texts = ready
            as_base64 = body.get("encoding_format") == "base64"
            reply = functools.partial(embeddings, model, texts, as_base64=as_base64)
            await _whole(ex, reply, behaviour)

    async def _prepare(
        self, ex: Exchange, body: Any, needed: str, read: Callable[[Any], Any]
    ) -> tuple[str, Behaviour, Any] | None:
        """The model asked for, its behaviour and the `needed` field as `read` reads it (None when
        invalid); None once an error (or a fault) is answered instead."""
        if not isinstance(body, dict):
            await ex.answer(400, _NOT_JSON)
            return None
        model, value = body.get("model"), read(body.get(needed))
        if not isinstance(model, str) or not model or value is None:
            what = needed if isinstance(model, str) and model else "model"
            await ex.answer(400, error(f"you must provide a valid {what} parameter", None))
            return None
        if not self.state.knows(model):
            await ex.answer(404, _no_model(model))
            return None
        behaviour = self.state.behaviours.get(model, NORMAL)
        if not await ex.sleep(behaviour.first_byte_delay):
            return None
        if behaviour.status is not None:
            await ex.answer(behaviour.status, behaviour.error_body or _fault(behaviour.status))
            return None
        return model, behaviour, value


async def _whole(ex: Exchange, reply: Callable[[], bytes], behaviour: Behaviour) -> None:
    if behaviour.stall_after is not None:
        await ex.hold()
    elif behaviour.disconnect_after is not None:
        await ex.reset()
    elif await ex.sleep(behaviour.delay):
        await ex.answer(200, reply())


async def _stream(ex: Exchange, call: ChatCall, behaviour: Behaviour) -> None:
    """Events one write each, content events after `chunk_delay`; then the end, a stall (after
    `stall_after` content events) or a reset (after `disconnect_after` events)."""
    chunks = behaviour.chunks
    events = call.events(chunks)
    last = len(events)
    stall = last + 1 if behaviour.stall_after is None else 1 + min(behaviour.stall_after, chunks)
    cut = last + 1 if behaviour.disconnect_after is None else min(behaviour.disconnect_after, last)
    await ex.start_stream()
    for i, event in enumerate(events[: min(stall, cut)]):
        if 1 <= i <= chunks and not await ex.sleep(behaviour.chunk_delay):
            return
        if not await ex.write(event):
            return
    if cut <= min(stall, last):
        await ex.reset()
    elif stall <= last:
        await ex.hold()
    else:
        await ex.end()


async def _read(receive: Receive) -> bytes | None:
    """The request body; None when the client disconnected first."""
    message = await receive()
    body: bytes = message.get("body", b"")
    while message.get("more_body"):
        message = await receive()
        body += message.get("body", b"")
    return None if message["type"] == "http.disconnect" else body


def _messages(value: Any) -> list[Any] | None:
    return value if isinstance(value, list) and value else None


def _parse(body: bytes) -> Any:
    if not body:
        return None
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None


def _authorization(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value)
    return None


def _no_model(model: str) -> bytes:
    return error(f"The model `{model}` does not exist", "model_not_found")


def _fault(status: int) -> bytes:
    return error(f"upstream error (status {status})", "upstream_error", "server_error")
