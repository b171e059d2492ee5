"""The disk side of a fetch: one thread writes, hashes and records progress, in arrival order.

The event loop only receives bytes and queues them (`put`); this thread writes them at their
offsets, hands them to the frontier hasher and, every `flush_bytes` or `flush_seconds`, fsyncs
the data and then replaces the sidecar with what it has written. So the sidecar never records
a byte that is not durable, and a crash at any moment (SIGKILL or power loss) resumes from the
last sidecar, fetching again at most what was written after it. The queue is bounded: past
`queue_bytes` the loop waits (`room`), and the server is held back by TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from bodhi_common.clock import Clock
from bodhi_common.errors import ResourceExhausted
from model_svc.downloader.hashing import FrontierHasher
from model_svc.downloader.journal import Part, write_sidecar
from model_svc.downloader.remote import RemoteFile

if TYPE_CHECKING:
    from hashlib import _Hash

_Write = tuple[int, int, list[bytes]]  # (part index, offset, consecutive chunks)
_IDLE: _Write = (-1, 0, [])
_BATCH_CHUNKS = 64  # well under IOV_MAX
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class DiskWriter:
    """Writes a fetch's bytes into the partial file from a thread of its own."""

    def __init__(
        self,
        partial: Path,
        remote: RemoteFile,
        parts: list[Part],
        digest: _Hash | None,
        *,
        fresh: bool,
        flush_bytes: int,
        flush_seconds: float,
        queue_bytes: int,
        batch_bytes: int,
        clock: Clock,
    ) -> None:
        self._partial = partial
        self._remote = remote
        self._written = [Part(start=p.start, end=p.end, done=p.done) for p in parts]
        self._flush_bytes = flush_bytes
        self._flush_seconds = flush_seconds
        self._queue_bytes = queue_bytes
        self._batch_bytes = batch_bytes
        self._batches: dict[int, tuple[int, list[bytes], int]] = {}  # index: (offset, chunks, n)
        self._clock = clock
        self._fd = os.open(partial, os.O_RDWR | os.O_CREAT | (os.O_TRUNC if fresh else 0), 0o644)
        self._hasher = None if digest is None else FrontierHasher(self._fd, self._written, digest)
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._queued = self._handled = 0  # bytes put (loop) / written (thread)
        self._waiting = False  # the loop waits for room
        self._room = asyncio.Event()
        self._hashing = True
        self._error: BaseException | None = None
        self._done: asyncio.Future[str | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if fresh:
            write_sidecar(partial, remote, self._written)

    def start(self) -> None:
        """Start the thread (it first re-hashes what a resumed partial already holds)."""
        self._loop = asyncio.get_running_loop()
        self._done = self._loop.create_future()
        threading.Thread(target=self._run, name="download-disk", daemon=True).start()

    def put(self, index: int, offset: int, data: bytes) -> bool:
        """Queue bytes of part `index` at `offset`; True when the loop should await `room`.

        Chunks are handed over in batches of `batch_bytes` (one thread wake-up and one pwritev
        each, not one per 64 KiB read); `release` hands over a part's last partial batch.
        """
        if self._error is not None:
            raise self._error
        start, chunks, size = self._batches.pop(index, (offset, [], 0))
        chunks.append(data)
        size += len(data)
        if size < self._batch_bytes and len(chunks) < _BATCH_CHUNKS:
            self._batches[index] = (start, chunks, size)
            return False
        self._queue.put((index, start, chunks))
        self._queued += size
        return self._queued - self._handled > self._queue_bytes

    def release(self, index: int) -> None:
        """Hand over what part `index` has batched (its stream ended or failed)."""
        batch = self._batches.pop(index, None)
        if batch is not None:
            self._queue.put((index, batch[0], batch[1]))
            self._queued += batch[2]

    async def room(self) -> None:
        """Wait until the thread has caught up to half the queue limit (or failed).

        Several parts may wait at once, so only the thread resets `_waiting` (when it wakes them
        all): a waiter that resumed resetting it would leave another one waiting unseen, forever.
        A wake-up may be early (one meant for an earlier wait): the condition is checked again.
        """
        half = self._queue_bytes // 2
        while self._queued - self._handled > half and self._error is None:
            self._room.clear()
            self._waiting = True
            if self._queued - self._handled > half and self._error is None:  # after the flag
                await self._room.wait()
        if self._error is not None:
            raise self._error

    async def close(self, *, verify: bool) -> str | None:
        """Write what is queued, flush, close; the file's digest when `verify` and complete."""
        assert self._done is not None
        if not verify and self._hasher is not None:
            self._hashing = False
            self._hasher.stopped = True
        for index in list(self._batches):
            self.release(index)
        self._queue.put(None)
        return await asyncio.shield(self._done)

    def _run(self) -> None:
        outcome: str | BaseException | None = None
        try:
            self._drain()
        except BaseException as exc:  # handed to the loop: put/room/close raise it
            outcome = self._error = _as_service_error(exc)
        try:
            self._flush()
            if outcome is None and self._hasher is not None and self._hashing:
                outcome = self._hasher.hexdigest()
        except BaseException as exc:
            outcome = outcome or _as_service_error(exc)
        finally:
            os.close(self._fd)
        self._hand_over(outcome)

    def _drain(self) -> None:
        if self._hasher is not None:
            self._hasher.catch_up()
        last_flush, unflushed = self._clock.monotonic(), 0
        while True:
            try:  # when idle, wake after flush_seconds so that the last bytes get recorded
                item = self._queue.get(timeout=self._flush_seconds if unflushed else None)
            except queue.Empty:
                item = _IDLE
            if item is None:
                return
            unflushed += self._handle(*item)
            now = self._clock.monotonic()
            due = unflushed >= self._flush_bytes or now - last_flush >= self._flush_seconds
            if unflushed and due:
                self._flush()
                last_flush, unflushed = now, 0

    def _handle(self, index: int, offset: int, chunks: list[bytes]) -> int:
        """Write, hash and count one batch; its length."""
        if index < 0:
            return 0
        size = self._write(self._written[index], offset, chunks)
        if self._hasher is not None and self._hashing:
            for chunk in chunks:
                self._hasher.written(offset, chunk)
                offset += len(chunk)
        self._handled += size
        if self._waiting and self._queued - self._handled <= self._queue_bytes // 2:
            self._wake()
        return size

    def _write(self, part: Part, offset: int, chunks: list[bytes]) -> int:
        """pwritev a batch at `offset`, counting into `part` what reached the file; its size."""
        size = sum(map(len, chunks))
        written = os.pwritev(self._fd, chunks, offset)
        part.done += written
        if written < size:  # a full disk or a size limit: the next write raises which
            rest = memoryview(b"".join(chunks))[written:]
            while rest:
                n = os.pwrite(self._fd, rest, offset + written)
                part.done += n
                written += n
                rest = rest[n:]
        return size

    def _flush(self) -> None:
        """Make the written bytes durable, then record them (never the other way round)."""
        os.fsync(self._fd)
        write_sidecar(self._partial, self._remote, self._written)

    def _wake(self) -> None:
        self._waiting = False
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self._loop.call_soon_threadsafe(self._room.set)

    def _hand_over(self, outcome: str | BaseException | None) -> None:
        def settle() -> None:
            self._room.set()
            if self._done is None or self._done.done():
                return
            if isinstance(outcome, BaseException):
                self._done.set_exception(outcome)
            else:
                self._done.set_result(outcome)

        assert self._loop is not None
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(settle)


def _as_service_error(exc: BaseException) -> BaseException:
    if isinstance(exc, OSError) and exc.errno in _FULL:
        error = ResourceExhausted(
            "not enough disk space for the download; the partial file is kept", code="disk_full"
        )
        error.__cause__ = exc
        return error
    return exc
