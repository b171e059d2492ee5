"""The proxy benchmark's asyncio HTTP/1.1 clients (proxy.py): `Pool`, keep-alive connections for
open-loop load (non-streaming answers with a content-length), and `stream_async`, one stream on a
connection of its own (concurrent streams)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from typing import cast

from proxy_http import Dechunker, Events, Target, parse_head


class _Proto(asyncio.Protocol):
    """One pooled asyncio connection; answers with content-length only (non-streaming)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.buffer = b""
        self.alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        status, headers = parse_head(self.buffer[:end])
        length = int(headers.get(b"content-length", b"-1"))
        if length < 0:
            self.waiter.set_exception(ConnectionError("no content-length"))
            self.waiter = None
            return
        if len(self.buffer) >= end + 4 + length:
            self.buffer = self.buffer[end + 4 + length :]
            self.waiter.set_result(status)
            self.waiter = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    async def call(self, raw: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


class Pool:
    """Up to `cap` keep-alive connections; a request waits for a free one when all are busy."""

    def __init__(self, target: Target, cap: int) -> None:
        self.target = target
        self.cap = cap
        self._idle: deque[_Proto] = deque()
        self._all: list[_Proto] = []
        self._waiters: deque[asyncio.Future[_Proto]] = deque()

    async def _open(self) -> _Proto:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(_Proto, self.target.host, self.target.port)
        self._all.append(proto)
        return proto

    async def fill(self, count: int) -> None:
        for proto in await asyncio.gather(*(self._open() for _ in range(count))):
            self._idle.append(proto)

    async def call(self, raw: bytes) -> int:
        if self._idle:
            proto = self._idle.popleft()
        elif len(self._all) < self.cap:
            proto = await self._open()
        else:
            waiter: asyncio.Future[_Proto] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            proto = await waiter
        try:
            status = await proto.call(raw)
        except BaseException:
            proto.alive = False
            if proto.transport is not None:
                proto.transport.abort()
            self._all.remove(proto)
            raise
        if self._waiters:
            self._waiters.popleft().set_result(proto)
        else:
            self._idle.append(proto)
        return status

    @property
    def size(self) -> int:
        return len(self._all)

    def close(self) -> None:
        for proto in self._all:
            if proto.transport is not None:
                proto.transport.abort()
        for waiter in self._waiters:
            waiter.cancel()
        self._all.clear()
        self._idle.clear()


async def stream_async(target: Target, raw: bytes) -> Events:
    """One streaming request on a connection of its own, read to the end."""
    reader, writer = await asyncio.open_connection(target.host, target.port)
    out = Events(sent=time.perf_counter())
    try:
        writer.write(raw)
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError("closed before the response head")
            buffer += chunk
        head, _, data = buffer.partition(b"\r\n\r\n")
        out.status, headers = parse_head(head)
        out.headers_at = time.perf_counter()
        chunked = headers.get(b"transfer-encoding") == b"chunked"
        decoder, sse, read = Dechunker(), bytearray(), 0
        while True:
            body = decoder.feed(data)[0] if chunked else data
            out.feed(sse, body, time.perf_counter(), read)
            if decoder.done:
                return out
            data = await reader.read(65536)
            if not data:
                if chunked:
                    raise ConnectionError("closed before the end of the stream")
                return out
            read += 1
    finally:
        writer.close()
