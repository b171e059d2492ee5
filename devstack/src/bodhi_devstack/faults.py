"""A TCP fault proxy for fault tests: it sits on one link (the gateway to a service, to Redis, a
service to PostgreSQL) and passes bytes through until a test switches on a toxic.

`FaultProxy` runs on its own thread and event loop (as `bodhi_devstack.upstream.LocalUpstream`),
so sync tests, async tests on any loop and the stack can share one. Toxics, switched at runtime
from any thread; each call returns once the proxy behaves that way:

- `latency(ms)`: every chunk, either way, waits `ms` before it is passed on;
- `blackhole()`: a hung peer (a SIGSTOPped process): connections are accepted and kept, bytes
  already sent and new ones are held, nothing is forwarded, nothing is closed;
- `reset()`: every open connection is cut with a TCP RST (SO_LINGER 0), both sides, and new
  connections are reset as soon as they are accepted;
- `limit_data(n)`: a connection is closed after `n` bytes went downstream (target to client);
- `heal()`: plain pass-through again (held bytes of a blackhole flow on).

Counters: `accepted` connections, `active` ones, `bytes_up` (client to target), `bytes_down`.
A connection is closed as a whole when either side ends it (no half-close)::

    with FaultProxy("127.0.0.1", 6379) as proxy:      # point the client at proxy.address
        proxy.blackhole()
        ...                                           # the client times out, no hang
        proxy.heal()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from typing import Literal

__all__ = ["FaultProxy"]

_TIMEOUT = 5.0
_CHUNK = 64 * 1024
Mode = Literal["pass", "blackhole", "reset"]


class _Link:
    """One proxied connection: the client's side and, once connected, the target's."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.target: asyncio.StreamWriter | None = None
        self.down = 0  # bytes sent to the client

    def close(self, *, rst: bool = False) -> None:
        for writer in (self.client, self.target):
            if writer is None or writer.transport.is_closing():
                continue
            if rst:
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                writer.transport.abort()
            else:
                writer.close()


class FaultProxy(contextlib.AbstractContextManager["FaultProxy"]):
    """A TCP proxy from a free loopback port to `host:port`; see the module docstring. As a
    context manager it starts on entry and stops on exit."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.accepted = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self._mode: Mode = "pass"
        self._delay = 0.0
        self._limit: int | None = None
        self._links: set[_Link] = set()
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._open: asyncio.Event | None = None  # set unless blackholed (lives on the loop)

    @classmethod
    def to(cls, address: str) -> FaultProxy:
        """A proxy to "host:port"."""
        host, _, port = address.rpartition(":")
        return cls(host, int(port))

    # --- toxics --------------------------------------------------------------------------------

    def latency(self, ms: float) -> None:
        """Delay every chunk, either way, by `ms` milliseconds (0: none)."""
        self._run(lambda: setattr(self, "_delay", ms / 1000))

    def blackhole(self) -> None:
        """Hold every connection, old and new, and forward nothing (a hung peer)."""
        self._run(lambda: self._switch("blackhole"))

    def reset(self) -> None:
        """RST every open connection and every new one until `heal`."""
        self._run(lambda: self._switch("reset"))

    def limit_data(self, n: int | None) -> None:
        """Close a connection once `n` bytes went downstream (None: no limit)."""
        self._run(lambda: setattr(self, "_limit", n))

    def heal(self) -> None:
        """Back to pass-through: no latency, no limit, held bytes flow on."""

        def healed() -> None:
            self._delay, self._limit = 0.0, None
            self._switch("pass")

        self._run(healed)

    @property
    def mode(self) -> Mode:
        """ "pass", "blackhole" or "reset"."""
        return self._mode

    @property
    def active(self) -> int:
        """Connections open now."""
        return len(self._links)

    # --- the proxy -----------------------------------------------------------------------------

    def _switch(self, mode: Mode) -> None:
        assert self._open is not None
        self._mode = mode
        if mode == "blackhole":
            self._open.clear()
            return
        self._open.set()  # held pumps wake; after a reset they find their link closed
        if mode == "reset":
            for link in list(self._links):
                link.close(rst=True)
            self._links.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        link = _Link(writer)
        if self._mode == "reset":
            link.close(rst=True)
            return
        self._links.add(link)
        assert self._open is not None
        try:
            await self._open.wait()  # a blackhole holds new connections too
            if link not in self._links:  # reset meanwhile
                return
            target_reader, link.target = await asyncio.open_connection(*self.target)
            if link not in self._links:
                link.close(rst=True)
                return
            await asyncio.gather(
                self._pump(reader, link.target, link, down=False),
                self._pump(target_reader, writer, link, down=True),
            )
        except OSError:
            pass  # the target refused: the client sees its connection closed
        finally:
            self._links.discard(link)
            link.close()

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, link: _Link, *, down: bool
    ) -> None:
        assert self._open is not None
        try:
            while data := await src.read(_CHUNK):
                if self._delay:
                    await asyncio.sleep(self._delay)
                await self._open.wait()
                if link not in self._links:
                    return
                if down and self._limit is not None:
                    data = data[: max(0, self._limit - link.down)]
                dst.write(data)
                await dst.drain()
                if down:
                    link.down += len(data)
                    self.bytes_down += len(data)
                    if self._limit is not None and link.down >= self._limit:
                        return
                else:
                    self.bytes_up += len(data)
        except OSError:
            pass
        finally:
            link.close()  # either side ending ends both (the other pump then reads EOF)

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        if self._port is None:
            raise RuntimeError("the fault proxy is not started")
        return self._port

    @property
    def address(self) -> str:
        """127.0.0.1:PORT, where clients connect instead of the target."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> str:
        """Listen on a free loopback port; return `address`."""
        if self._port is not None:
            return self.address
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fault-proxy", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

        async def listen() -> asyncio.Server:
            self._open = asyncio.Event()
            self._open.set()
            return await asyncio.start_server(self._serve, "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(listen(), loop).result(_TIMEOUT)
        self._port = self._server.sockets[0].getsockname()[1]
        return self.address

    def stop(self) -> None:
        """Stop listening, close every connection and end the thread."""
        if self._loop is None or self._thread is None:
            return
        loop, thread, server = self._loop, self._thread, self._server

        async def close() -> None:
            if server is not None:
                server.close()
            self._switch("reset")
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(close(), loop).result(_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_TIMEOUT)
            if not thread.is_alive():
                loop.close()
            self._loop = self._thread = self._server = None
            self._port = None

    def _run(self, change: Callable[[], None]) -> None:
        """Apply a change on the proxy's loop and wait until it is done."""
        if self._loop is None:
            raise RuntimeError("the fault proxy is not started")

        async def apply() -> None:
            change()

        asyncio.run_coroutine_threadsafe(apply(), self._loop).result(_TIMEOUT)

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
