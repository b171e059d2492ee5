"""The proxy benchmark's HTTP clients (proxy.py): the same minimal HTTP/1.1 code for every peer, so
differences between paths are the servers'. `Conn` is one blocking keep-alive connection (c=1
latency, streams with a timestamp per server-sent event); proxy_async has the asyncio ones."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

import msgspec

OVERHEAD = b"x-gateway-overhead-ms"


@dataclass(frozen=True, slots=True)
class Target:
    """One peer: where it listens and how a request to it is written."""

    name: str
    host: str
    port: int
    prefix: str  # "/v1" for every peer here
    key: str  # sent as Authorization: Bearer <key>

    def post(self, path: str, body: bytes) -> bytes:
        head = (
            f"POST {self.prefix}{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def chat(self, body: dict[str, object]) -> bytes:
        return self.post("/chat/completions", msgspec.json.encode(body))


def parse_head(head: bytes) -> tuple[int, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers


class Dechunker:
    """Incremental decoder of a chunked body: feed bytes, get the data so far; `done` after the
    last (empty) chunk and its trailer."""

    def __init__(self) -> None:
        self._buffer = b""
        self.done = False

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """(body bytes decoded, bytes left over after the end of the body)."""
        self._buffer += data
        out = bytearray()
        while not self.done:
            line_end = self._buffer.find(b"\r\n")
            if line_end < 0:
                break
            size = int(self._buffer[:line_end].split(b";")[0], 16)
            if size == 0:
                if self._buffer.find(b"\r\n\r\n", line_end) < 0:
                    break
                self.done = True
                self._buffer = self._buffer[self._buffer.find(b"\r\n\r\n", line_end) + 4 :]
                break
            if len(self._buffer) < line_end + 2 + size + 2:
                break
            out += self._buffer[line_end + 2 : line_end + 2 + size]
            self._buffer = self._buffer[line_end + 4 + size :]
        rest = self._buffer if self.done else b""
        if self.done:
            self._buffer = b""
        return bytes(out), rest


@dataclass(slots=True)
class Events:
    """A streamed response as the client saw it: each SSE event's payload, when its last byte
    arrived (perf_counter), and which read delivered it."""

    status: int = 0
    sent: float = 0.0
    headers_at: float = 0.0
    payloads: list[bytes] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    reads: list[int] = field(default_factory=list)
    overhead_ms: float | None = None

    def feed(self, sse: bytearray, data: bytes, at: float, read: int) -> None:
        sse += data
        while (end := sse.find(b"\n\n")) >= 0:
            event = bytes(sse[:end])
            del sse[: end + 2]
            if event.startswith(b"data: "):
                self.payloads.append(event[6:])
                self.times.append(at)
                self.reads.append(read)


class Conn:
    """One blocking keep-alive HTTP/1.1 connection (TCP_NODELAY)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""

    def close(self) -> None:
        self._sock.close()

    def _recv(self) -> bytes:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def _head(self) -> tuple[int, dict[bytes, bytes]]:
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv()
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        return parse_head(head)

    def request(self, raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        """Send a request, read the whole response (content-length or chunked)."""
        self._sock.sendall(raw)
        status, headers = self._head()
        if headers.get(b"transfer-encoding") == b"chunked":
            decoder, whole = Dechunker(), bytearray()
            data, self._buffer = self._buffer, b""
            while True:
                part, rest = decoder.feed(data)
                whole += part
                if decoder.done:
                    self._buffer = rest
                    return status, headers, bytes(whole)
                data = self._recv()
        length = int(headers.get(b"content-length", b"0"))
        while len(self._buffer) < length:
            self._buffer += self._recv()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return status, headers, body

    def stream(self, raw: bytes, stop_after: int | None = None) -> Events:
        """Send a streaming request; timestamp each event. `stop_after`: return once that many
        events arrived, leaving the response unread (the caller then closes the connection)."""
        out = Events(sent=time.perf_counter())
        self._sock.sendall(raw)
        out.status, headers = self._head()
        out.headers_at = time.perf_counter()
        if OVERHEAD in headers:
            out.overhead_ms = float(headers[OVERHEAD])
        chunked = headers.get(b"transfer-encoding") == b"chunked"
        decoder, sse = Dechunker(), bytearray()
        data, self._buffer, read = self._buffer, b"", 0
        while True:
            if chunked:
                body, rest = decoder.feed(data)
            else:
                body, rest = data, b""
            out.feed(sse, body, time.perf_counter(), read)
            if decoder.done or (stop_after is not None and len(out.payloads) >= stop_after):
                self._buffer = rest
                return out
            try:
                data = self._recv()
            except ConnectionError:
                if chunked:
                    raise
                return out  # close-delimited body
            read += 1
