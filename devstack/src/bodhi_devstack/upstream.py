"""A real local OpenAI-compatible server for tests and benchmarks of the AI proxy.

`LocalUpstream` answers `GET /v1/models`, `POST /v1/chat/completions` (whole, streamed as
server-sent events, tool calls) and `POST /v1/embeddings` as OpenAI does (also without the `/v1`
prefix), checking `Authorization: Bearer <api_key>` when it has a key. Replies echo the last
message. A `Behaviour` per model injects faults: error statuses, delays, paced chunks, a stream
that stalls or is reset. It logs every request with the time of each body write and the time the
client's connection dropped, so tests can see a proxy close its upstream request.

As `bodhi_devstack.hub.LocalHub`, uvicorn (httptools) runs in a background thread with its own
event loop, so sync tests, async tests on any loop and benchmarks can share one::

    with LocalUpstream(api_key="sk-test", models=["gpt-test"]) as up:
        up.behave("slow", Behaviour(chunks=5, chunk_delay=0.2))
        OpenAI(base_url=up.url, api_key="sk-test").chat.completions.create(...)
        assert up.wait_closed(0, timeout=2) is not None   # after the client gave up

`record=False` keeps no log (for benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable

import uvicorn

from bodhi_devstack.hub import _listen, _new_loop, _shutdown, manual_server
from bodhi_devstack.upstream_http import UpstreamApp, UpstreamProtocol
from bodhi_devstack.upstream_state import Behaviour, UpstreamRequest, UpstreamState

__all__ = ["Behaviour", "LocalUpstream", "UpstreamRequest"]

_TIMEOUT = 5.0


class LocalUpstream(contextlib.AbstractContextManager["LocalUpstream"]):
    """A local OpenAI-compatible upstream; see the module docstring. As a context manager it
    starts on entry and stops on exit."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Iterable[str] = ("gpt-test", "text-embed"),
        record: bool = True,
    ) -> None:
        self._state = UpstreamState(api_key=api_key, models=list(models), record=record)
        self._origin: str | None = None
        self._running: tuple[asyncio.AbstractEventLoop, threading.Thread, uvicorn.Server] | None
        self._running = None

    # --- behaviour and the request log ---------------------------------------------------------

    def behave(self, model: str, behaviour: Behaviour | None) -> None:
        """Answer requests whose body's `model` is `model` this way (the model then exists);
        None forgets it."""
        if behaviour is None:
            self._state.behaviours.pop(model, None)
        else:
            self._state.behaviours[model] = behaviour

    @property
    def requests(self) -> list[UpstreamRequest]:
        """Every request so far, in order of arrival (in-flight ones included); a copy."""
        return self._state.requests()

    def clear(self) -> None:
        """Forget the requests recorded so far."""
        self._state.clear()

    def wait_closed(
        self, request: int | UpstreamRequest, timeout: float = _TIMEOUT
    ) -> float | None:
        """Block until the request's connection dropped before its response finished, and return
        `closed_at` (time.monotonic()); None when the response finished instead or `timeout`
        seconds passed. `request` is a record or its index in `requests`."""
        record = self.requests[request] if isinstance(request, int) else request
        record.progress.wait(timeout)
        return record.closed_at

    async def await_closed(
        self, request: int | UpstreamRequest, timeout: float = _TIMEOUT
    ) -> float | None:
        """`wait_closed` for async tests (in a worker thread, so the caller's loop runs on)."""
        return await asyncio.to_thread(self.wait_closed, request, timeout)

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT/v1: the base URL an OpenAI client takes."""
        return f"{self.origin}/v1"

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT (the routes answer without the /v1 prefix too)."""
        if self._origin is None:
            raise RuntimeError("the upstream is not started")
        return self._origin

    def start(self) -> str:
        """Listen on a free loopback port; return `url`."""
        if self._origin is not None:
            return self.url
        sock = _listen()
        server = manual_server(UpstreamApp(self._state), UpstreamProtocol)
        loop = _new_loop()
        thread = threading.Thread(target=loop.run_forever, name="local-upstream", daemon=True)
        thread.start()
        # Started and stopped by hand (no serve()): nothing polls should_exit.
        started = asyncio.run_coroutine_threadsafe(server.startup(sockets=[sock]), loop)
        try:
            started.result(_TIMEOUT)
        except BaseException as exc:
            _end(loop, thread)
            sock.close()
            raise RuntimeError("the local upstream did not start") from exc
        self._running = loop, thread, server
        self._origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    def stop(self) -> None:
        """Close the listener, cut every connection (stalled ones too) and end the thread."""
        if self._running is None:
            return
        loop, thread, server = self._running
        self._running = self._origin = None
        try:
            asyncio.run_coroutine_threadsafe(_shutdown(server), loop).result(_TIMEOUT)
        finally:
            _end(loop, thread)

    def __enter__(self) -> LocalUpstream:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _end(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(_TIMEOUT)
    if not thread.is_alive():
        loop.close()
