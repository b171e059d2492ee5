"""The proxy itself: route, send, and relay the upstream's answer as it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from aiproxy_svc.domain import Start
from aiproxy_svc.router import Router
from aiproxy_svc.upstream import Upstream, headers_of
from bodhi_common.clock import Clock


def _start(response: aiohttp.ClientResponse, started: float, clock: Clock) -> Start:
    elapsed = (clock.monotonic() - started) * 1000
    return Start(status=response.status, headers=headers_of(response), upstream_ms=elapsed)


class Proxy:
    """Chat completions and embeddings to whichever upstream serves the model."""

    def __init__(self, router: Router, upstream: Upstream, clock: Clock) -> None:
        self._router = router
        self._upstream = upstream
        self._clock = clock

    async def chat(self, model: str, body: bytes) -> AsyncIterator[Start | bytes]:
        """The response start, then body chunks: an event stream piece by piece as it arrives,
        anything else whole."""
        target = await self._router.target(model, body, chat=True)
        started = self._clock.monotonic()
        async with self._upstream.post(target, "/chat/completions") as response:
            if response.content_type != "text/event-stream":
                whole = await self._upstream.read(response, target.provider)
                yield _start(response, started, self._clock)
                yield whole
                return
            yield _start(response, started, self._clock)
            async for chunk in self._upstream.chunks(response, target.provider):
                yield chunk

    async def embeddings(self, model: str, body: bytes) -> tuple[Start, bytes]:
        """The whole upstream answer to an embeddings request."""
        target = await self._router.target(model, body, chat=False)
        started = self._clock.monotonic()
        async with self._upstream.post(target, "/embeddings") as response:
            whole = await self._upstream.read(response, target.provider)
            return _start(response, started, self._clock), whole
