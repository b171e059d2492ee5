"""The local Hub's HTTP side (`bodhi_devstack.hub`): a raw ASGI app over uvicorn's httptools
protocol, subclassed so the app can reach its connection (cut it, reset it, notice it is gone).

Main listener: `/{repo}/resolve/{rev}/{file}` (HEAD/GET, ranges, gated files, faults, 302 to the
CDN listener) and `/api/models/...` (hub_api). CDN listener: `/repos/{quoted repo}/{commit}/{file}`
without auth (as a signed URL), the same bodies and faults, no Hub headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote, unquote

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bodhi_devstack.hub_api import api_models
from bodhi_devstack.hub_files import BLOCK, HubFile
from bodhi_devstack.hub_state import Entry, Fault, HubState, Live, Missing

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

LOG = logging.getLogger("bodhi_devstack.hub")
_CONNECTION = "bodhi_devstack.hub.connection"
_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.ASCII | re.IGNORECASE)


class HubProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that hands itself to the app and notices a lost connection;
    no access log, errors to our own logger."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = False
        self.logger = LOG
        self.lost = asyncio.Event()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["state"][_CONNECTION] = self

    def reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0) rather than a FIN."""
        sock = self.transport.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    async def sleep(self, seconds: float) -> bool:
        """Sleep; True when the connection went away meanwhile (the hub stopping aborts it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.lost.wait(), seconds)
        return self.lost.is_set()


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single `bytes=` range; None to ignore the header (absent,
    malformed or multi-range). Raises ValueError when it cannot be satisfied."""
    match = None if header is None else _RANGE.fullmatch(header)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if not first:  # a suffix: the last N bytes
        if int(last) == 0 or size == 0:
            raise ValueError(f"{header} of {size} bytes")
        return max(0, size - int(last)), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise ValueError(f"{header} of {size} bytes")
    return start, size if not last else min(int(last) + 1, size)


def _h(name: str, value: object) -> tuple[bytes, bytes]:
    return name.encode(), str(value).encode("ascii", "backslashreplace")


class HubApp:
    """The ASGI app behind both listeners."""

    def __init__(self, state: HubState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        segs = [unquote(s) for s in scope["raw_path"].decode("latin-1").split("/")[1:]]
        if scope["method"] not in ("GET", "HEAD"):
            await _error(send, 405, None, "only GET and HEAD")
            return
        if scope["server"] is not None and scope["server"][1] == self.state.cdn_port:
            if len(segs) >= 4 and segs[0] == "repos":
                await self._file(scope, send, segs[1], segs[2], "/".join(segs[3:]), cdn=True)
                return
        elif segs[:2] == ["api", "models"]:
            query = parse_qs(scope["query_string"].decode("latin-1"))
            answer = api_models(self.state, segs[2:], query)
            if isinstance(answer, Missing):
                await _error(send, 404, answer.code, answer.message)
            else:
                await _send(send, 200, [_h("content-type", "application/json")], answer)
            return
        else:
            for i in (2, 1):  # `owner/name` or a one-part repo id
                if len(segs) > i + 2 and segs[i] == "resolve":
                    repo, rev, name = "/".join(segs[:i]), segs[i + 1], "/".join(segs[i + 2 :])
                    await self._file(scope, send, repo, rev, name, cdn=False)
                    return
        await _error(send, 404, None, "not found")

    async def _file(
        self, scope: Scope, send: Send, repo: str, rev: str, filename: str, *, cdn: bool
    ) -> None:
        conn: HubProtocol = scope["state"][_CONNECTION]
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        range_header = headers.get(b"range")
        live = Live(
            key=(repo, filename),
            method=scope["method"],
            path=scope["path"],
            range=None if range_header is None else range_header.decode("latin-1"),
            authorized=bool(auth),
            cdn=cdn,
        )
        self.state.log(live)
        found = self.state.find(repo, rev, filename)
        if isinstance(found, Missing):
            extra = [] if found.commit is None else [_h("x-repo-commit", found.commit)]
            live.status = 404
            await _error(send, 404, found.code, found.message, extra)
            return
        if found.file.gated and not cdn:
            refusal = self._refusal(repo, auth)
            if refusal is not None:
                live.status = refusal[0]
                await _error(send, refusal[0], "GatedRepo", refusal[1])
                return
        fault, reset, status = self.state.before_headers(live.key, live.method)
        if reset:
            conn.reset()
            await conn.lost.wait()
        elif fault is not None and status is not None:
            after = fault.retry_after
            extra = [] if after is None else [_h("retry-after", f"{after:g}")]
            live.status = status
            await _error(send, status, None, f"fault injected: {status}", extra)
        elif fault is not None and fault.redirect and not cdn:
            live.status = 302
            location = (
                f"{self.state.cdn_url}/repos/{quote(repo, safe='')}/{found.file.commit}"
                f"/{quote(filename)}"
            )
            # The Hub's 302 carries the file's metadata itself (etag, commit, linked etag/size).
            meta = [*_hub_headers(found.file), _h("location", location)]
            await _send(send, 302, meta, b"")
        else:
            await self._serve(send, conn, found, live, fault, cdn=cdn)

    def _refusal(self, repo: str, auth: str) -> tuple[int, str] | None:
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if token is None:
            return 401, f"Access to model {repo} is restricted. You must be authenticated."
        if token not in self.state.tokens:
            return (
                403,
                f"Access to model {repo} is restricted and you are not in the authorized list.",
            )
        return None

    async def _serve(
        self,
        send: Send,
        conn: HubProtocol,
        entry: Entry,
        live: Live,
        fault: Fault | None,
        *,
        cdn: bool,
    ) -> None:
        size = entry.file.size
        try:
            span = parse_range(live.range, size)
        except ValueError:
            live.status = 416
            unsatisfiable = [_h("content-range", f"bytes */{size}")]
            await _error(send, 416, None, f"range not satisfiable: {live.range}", unsatisfiable)
            return
        start, end = (0, size) if span is None else span
        headers = [
            _h("content-type", "application/octet-stream"),
            _h("accept-ranges", "bytes"),
            _h("content-length", end - start),
            _h("content-disposition", _disposition(entry.file.filename)),
        ]
        headers += [_h("etag", f'"{entry.file.etag}"')] if cdn else _hub_headers(entry.file)
        if span is not None:
            headers.append(_h("content-range", f"bytes {start}-{end - 1}/{size}"))
        live.status = 200 if span is None else 206
        await send({"type": "http.response.start", "status": live.status, "headers": headers})
        if live.method == "HEAD" or start == end:
            await send({"type": "http.response.body", "body": b""})
            return
        await self._body(send, conn, entry, start, end, live, fault)

    async def _body(
        self,
        send: Send,
        conn: HubProtocol,
        entry: Entry,
        start: int,
        end: int,
        live: Live,
        fault: Fault | None,
    ) -> None:
        """Stream [start, end) in chunks aligned to the chunk size, applying the faults."""
        cut = stall = flip = rate = None
        if fault is not None:
            cut, stall = self.state.in_body(live.key, fault, start, end)
            if fault.flip_byte is not None and start <= fault.flip_byte < end:
                flip = fault.flip_byte
            rate = fault.throttle
        # Throttled: chunks of about 1/20 s (a power of two, so they still divide a block).
        chunk = (
            BLOCK if rate is None else max(4096, min(1 << 18, 1 << (int(rate) // 20).bit_length()))
        )
        reader = entry.content.reader()
        loop = asyncio.get_running_loop()
        began = loop.time()
        pos = start
        while pos < end:
            if pos == stall:
                stall = None
                if await conn.sleep(fault.stall_seconds if fault else 0.0):
                    return
            if pos == cut:
                conn.transport.close()  # a FIN once the bytes so far are out
                await conn.lost.wait()
                return
            upto = min(end, (pos // chunk + 1) * chunk)
            for mark in (stall, cut):
                if mark is not None and pos < mark < upto:
                    upto = mark
            data = reader.read(pos, upto)
            if flip is not None and pos <= flip < upto:
                wrong = bytearray(data)
                wrong[flip - pos] ^= 0xFF
                data = bytes(wrong)
            await send({"type": "http.response.body", "body": data, "more_body": upto < end})
            if conn.lost.is_set():
                return
            live.bytes_sent += len(data)
            pos = upto
            if rate is not None and pos < end:
                delay = began + (pos - start) / rate - loop.time()
                if delay > 0 and await conn.sleep(delay):
                    return


def _hub_headers(hub_file: HubFile) -> Headers:
    headers = [_h("etag", f'"{hub_file.etag}"'), _h("x-repo-commit", hub_file.commit)]
    if hub_file.lfs:
        headers += [_h("x-linked-etag", f'"{hub_file.sha256}"'), _h("x-linked-size", hub_file.size)]
    return headers


def _disposition(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1]
    plain = name.encode("ascii", "replace").decode().replace('"', "")
    return f"inline; filename*=UTF-8''{quote(name)}; filename=\"{plain}\";"


async def _send(send: Send, status: int, headers: Headers, payload: object) -> None:
    body = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
    headers = [*headers, _h("content-length", len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _error(
    send: Send, status: int, code: str | None, message: str, extra: Headers | None = None
) -> None:
    headers = [_h("content-type", "application/json"), _h("x-error-message", message)]
    if code is not None:
        headers.append(_h("x-error-code", code))
    await _send(send, status, headers + (extra or []), {"error": message})
