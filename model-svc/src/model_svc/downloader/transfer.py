"""One part over HTTP: a ranged GET from its offset, retried from where it stopped."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Callable

import aiohttp
import msgspec

from bodhi_common.clock import Clock
from bodhi_common.errors import Unavailable
from model_svc.downloader.disk import DiskWriter
from model_svc.downloader.journal import Part
from model_svc.downloader.remote import (
    RemoteFile,
    hub_error,
    hub_headers,
    request_url,
    retry_after,
)

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_CHUNK = 1 << 20  # at most this much per read: whatever has arrived, up to 1 MiB


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How often and how patiently a part is retried."""

    attempts: int = 6  # failed attempts in a row (without a byte of progress) before giving up
    base_delay: float = 0.25  # first backoff; doubles per failure, with jitter
    max_delay: float = 10.0
    max_retry_after: float = 60.0  # a longer Retry-After is cut to this


class _Retry(Exception):
    """This attempt failed in a way another attempt may not (drop, stall, 5xx, 429)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class PartFetcher:
    """Downloads parts of one remote file, handing the bytes to the disk thread as they land."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        remote: RemoteFile,
        parts: list[Part],
        disk: DiskWriter,
        *,
        token: str | None,
        stall_seconds: float,
        retry: RetryPolicy,
        clock: Clock,
        on_progress: Callable[[int], None],
    ) -> None:
        self._http = http
        self._remote = remote
        self.parts = parts  # what has arrived (the disk thread keeps what is written)
        self.received = sum(p.done for p in parts)
        self._disk = disk
        self._token = token
        self._stall = stall_seconds
        self._retry = retry
        self._clock = clock
        self._on_progress = on_progress

    async def run(self, index: int) -> None:
        """Fetch part `index` to its end, retrying from its current offset after each failure."""
        part = self.parts[index]
        failures = 0
        while not part.complete:
            before = part.done
            try:
                await self._attempt(index, part)
            except _Retry as exc:
                failures = 0 if part.done > before else failures + 1
                if failures >= self._retry.attempts:
                    raise Unavailable(
                        f"the Hub kept failing to send {self._remote.filename} "
                        f"in {self._remote.repo}; try again later",
                        code="hub_unavailable",
                    ) from exc
                await asyncio.sleep(self._delay(failures, exc.delay))

    def _delay(self, failures: int, asked: float | None) -> float:
        if asked is not None:
            return min(asked, self._retry.max_retry_after)
        if failures == 0:
            return 0.0  # the last attempt made progress: resume at once
        ceiling = min(self._retry.max_delay, self._retry.base_delay * 2.0 ** (failures - 1))
        return ceiling * (0.5 + random.random() / 2)  # noqa: S311 (jitter, not a secret)

    async def _attempt(self, index: int, part: Part) -> None:
        """One GET from the part's offset; raises _Retry when another attempt may do better."""
        headers = hub_headers(self._token, send_token=self._remote.send_token)
        ranged = part.offset > 0 or part.end < self._remote.size
        if ranged:
            headers["Range"] = f"bytes={part.offset}-{part.end - 1}"
        url = request_url(self._remote.url)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._stall) as timer:
                request = self._http.get(url, headers=headers, allow_redirects=False)
                async with request as response:
                    self._check(response, part, ranged=ranged)
                    try:
                        async for chunk in response.content.iter_chunked(_CHUNK):
                            if self._land(index, part, chunk):
                                timer.reschedule(None)  # waiting for the disk is not a stall
                                await self._disk.room()
                            timer.reschedule(loop.time() + self._stall)
                            if part.complete:
                                return
                    finally:
                        self._keep_buffered(index, part, response.content)
        except TimeoutError as exc:
            raise _Retry("no byte arrived for the stall timeout") from exc
        except aiohttp.ClientError as exc:  # a drop, a reset, a truncated or malformed body
            raise _Retry("the connection failed") from exc
        finally:
            self._disk.release(index)
        raise _Retry("the body ended early")

    def _check(self, response: aiohttp.ClientResponse, part: Part, *, ranged: bool) -> None:
        """Accept 206 at our offset (or 200 for a whole-file GET); classify anything else."""
        status, headers = response.status, response.headers
        if status == 429 or status >= 500:
            raise _Retry(f"the Hub answered {status}", retry_after(headers, self._clock))
        error = hub_error(status, headers, self._remote.repo, self._remote.filename)
        if error is not None:
            raise error
        if status == 200 and not ranged:
            return
        found = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", ""))
        if status != 206 or found is None or int(found[1]) != part.offset:
            raise Unavailable(
                f"the Hub did not honour a range request for {self._remote.filename}",
                code="hub_unavailable",
            )

    def _keep_buffered(self, index: int, part: Part, content: aiohttp.StreamReader) -> None:
        """Land what aiohttp has already read off the socket when the loop stops early (a cancel):
        those bytes have arrived, so a resume must not fetch them again. (After a connection
        error aiohttp gives none of them back.)"""
        with contextlib.suppress(Exception):  # never replace the error (or cancel) under way
            while not part.complete and (chunk := content.read_nowait(_CHUNK)):
                self._land(index, part, chunk)  # no waiting for room here: it is a bounded rest

    def _land(self, index: int, part: Part, chunk: bytes) -> bool:
        """Queue a chunk (never past the part's end) for the disk; True: wait for room."""
        chunk = chunk[: part.end - part.offset]
        offset = part.offset
        part.done += len(chunk)
        self.received += len(chunk)
        self._on_progress(self.received)
        return self._disk.put(index, offset, chunk)
