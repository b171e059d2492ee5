"""The proxy itself: route, send, and relay the upstream's answer as it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from aiproxy_svc.domain import Start
from aiproxy_svc.router import Router
from aiproxy_svc.upstream import Upstream, headers_of
from bodhi_common.clock import Clock
from bodhi_common.errors import FailedPrecondition

PIECE = 1 << 20  # a whole body travels in pieces well under the 16 MiB message limit
MAX_WHOLE = 15 << 20  # what fits one message


def _start(response: aiohttp.ClientResponse, started: float, clock: Clock) -> Start:
    elapsed = (clock.monotonic() - started) * 1000
    return Start(status=response.status, headers=headers_of(response), upstream_ms=elapsed)


class Proxy:
    """Chat completions and embeddings to whichever upstream serves the model."""

    def __init__(self, router: Router, upstream: Upstream, clock: Clock) -> None:
        self._router = router
        self._upstream = upstream
        self._clock = clock

    def chat(self, model: str, body: bytes) -> AsyncIterator[Start | bytes]:
        """A chat completion's answer; see `forward`."""
        return self.forward("/chat/completions", model, body, chat=True)

    async def whole(self, model: str, body: bytes) -> tuple[Start, bytes]:
        """A chat completion's whole answer (an event stream, too, is read to its end)."""
        target = await self._router.target(model, body, chat=True)
        started = self._clock.monotonic()
        response, whole = await self._upstream.post_whole(target, "/chat/completions")
        if len(whole) > MAX_WHOLE:
            raise FailedPrecondition(
                "the answer is too large to return whole; ask for it streamed",
                code="answer_too_large",
            )
        return _start(response, started, self._clock), whole

    def embeddings(self, model: str, body: bytes) -> AsyncIterator[Start | bytes]:
        """An embeddings answer; see `forward`."""
        return self.forward("/embeddings", model, body, chat=False)

    async def forward(
        self, path: str, model: str, body: bytes, *, chat: bool
    ) -> AsyncIterator[Start | bytes]:
        """The response start, then body chunks: an event stream piece by piece as it arrives,
        anything else read whole (so the start can say how long the upstream took) and sent in
        pieces that fit a gRPC message."""
        target = await self._router.target(model, body, chat=chat)
        started = self._clock.monotonic()
        async with self._upstream.post(target, path) as response:
            if response.content_type == "text/event-stream":
                yield _start(response, started, self._clock)
                async for chunk in self._upstream.chunks(response, target.provider):
                    yield chunk
                return
            whole = await self._upstream.read(response, target.provider)
        yield _start(response, started, self._clock)
        for offset in range(0, len(whole), PIECE):
            yield whole[offset : offset + PIECE]
