"""Upstream answers relayed to the client as they arrive, with the gateway's own cost in
`x-gateway-overhead-ms` (its time minus the upstream's, reference PERFORMANCE.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.response import Stream

from bodhi_common.errors import Cancelled, ServiceError
from gateway.schemas.ai import Upstream

OVERHEAD = "x-gateway-overhead-ms"
EVENT_STREAM = "text/event-stream"
ErrorChunk = Callable[[ServiceError], bytes]
T = TypeVar("T")


def overhead(started: float, upstream: Upstream) -> str:
    """The gateway's share of the time since `started` (a perf_counter reading)."""
    spent = (time.perf_counter() - started) * 1000 - upstream.upstream_ms
    return f"{max(spent, 0.0):.3f}"


def content_type(upstream: Upstream, default: str = "application/json") -> str:
    """The upstream's content type."""
    return next((v for n, v in upstream.headers if n == "content-type"), default)


def headers(upstream: Upstream, started: float) -> dict[str, str]:
    """Relayed headers plus the overhead; the content type goes separately."""
    relayed = {n: v for n, v in upstream.headers if n != "content-type"}
    relayed[OVERHEAD] = overhead(started, upstream)
    return relayed


async def guarded(chunks: AsyncIterator[bytes], on_error: ErrorChunk) -> AsyncIterator[bytes]:
    """The chunks; a failure after the headers went out ends the body with one error chunk
    (the status can no longer change) instead of a cut connection."""
    try:
        async for chunk in chunks:
            yield chunk
    except ServiceError as err:
        yield on_error(err)


def sse_error(err: ServiceError) -> bytes:
    """An error as the last event of an OpenAI stream."""
    body = {"error": {"message": err.message, "type": "upstream_error", "code": err.code}}
    return b"data: " + msgspec.json.encode(body) + b"\n\n"


async def unless_gone(request: Request[Any, Any, Any], work: Awaitable[T]) -> T:
    """`work`'s result; if the client goes away first, `work` is cancelled (and with it the
    gRPC call and the upstream request) rather than left to run for nobody. One watcher task
    per request, which cancels this one: cheaper than racing two tasks."""
    this = asyncio.current_task()
    assert this is not None, "called from a task"
    gone = asyncio.Event()

    async def watch() -> None:
        await _disconnect(request)
        gone.set()
        this.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not gone.is_set():
            raise
        this.uncancel()
        raise Cancelled("the client went away", code="request_cancelled") from None
    finally:
        watcher.cancel()


async def join(chunks: AsyncIterator[bytes]) -> bytes:
    """A whole body."""
    return b"".join([chunk async for chunk in chunks])


async def _disconnect(request: Request[Any, Any, Any]) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def relayed(
    upstream: Upstream, chunks: AsyncIterator[bytes], started: float
) -> Response[Any]:
    """The answer as the client gets it: an event stream piece by piece, anything else whole."""
    media_type = content_type(upstream)
    if media_type.startswith(EVENT_STREAM):
        out = headers(upstream, started) | {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return Stream(
            guarded(chunks, sse_error), status_code=upstream.status, media_type=media_type,
            headers=out,
        )  # fmt: skip
    return whole(upstream, await join(chunks), started)


def whole(upstream: Upstream, body: bytes, started: float) -> Response[bytes]:
    """A whole answer with the upstream's status and content type."""
    return Response(
        body, status_code=upstream.status, media_type=content_type(upstream),
        headers=headers(upstream, started),
    )  # fmt: skip
