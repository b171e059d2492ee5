"""A service's own /metrics port: a small HTTP/1.0-style listener on the service's event loop
(asyncio streams: no thread, unlike prometheus_client.start_http_server, and no web framework
for one GET). Each answer closes its connection, which is all a Prometheus scrape needs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import CONTENT_TYPE_LATEST

from bodhi_common.errors import StartupError
from bodhi_common.metrics import Metrics

log = logging.getLogger(__name__)

_READ_SECONDS = 5.0


def metrics_address(explicit: str | None, grpc_listen: str) -> str:
    """Where to listen: `explicit`, else the gRPC host with its port + 1000 (port 0 stays 0,
    an ephemeral port, as in tests)."""
    if explicit:
        return explicit
    host, _, port = grpc_listen.rpartition(":")
    number = int(port) if port.isdigit() else 0
    return f"{host}:{number + 1000 if number else 0}"


class MetricsListener:
    """Serves `GET /metrics` with the text exposition of `metrics`; `start`, later `stop`."""

    def __init__(self, metrics: Metrics, listen: str) -> None:
        self._metrics = metrics
        self._listen = listen
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        """Bind and serve; returns the bound port."""
        host, _, port = self._listen.rpartition(":")
        try:
            self._server = await asyncio.start_server(self._answer, host.strip("[]"), int(port))
        except (OSError, ValueError) as exc:
            raise StartupError(f"cannot serve metrics on {self._listen}: {exc}") from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("serving metrics", extra={"listen": self._listen, "port": self.port})
        return self.port

    async def stop(self) -> None:
        """Stop listening (a scrape in progress is cut short)."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_SECONDS)
            writer.write(self._response(head.split(b"\r\n", 1)[0].split(b" ")))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            pass  # a client that went away or sent no request: nothing to answer
        finally:
            writer.close()

    def _response(self, request_line: list[bytes]) -> bytes:
        method, path = [*request_line, b"", b""][:2]
        if path.split(b"?", 1)[0] != b"/metrics":
            return _reply(b"404 Not Found", b"text/plain", b"not found\n")
        if method != b"GET":
            return _reply(b"405 Method Not Allowed", b"text/plain", b"GET only\n")
        return _reply(b"200 OK", CONTENT_TYPE_LATEST.encode(), self._metrics.exposition())


def _reply(status: bytes, content_type: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type
        + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
        + body
    )  # fmt: skip
