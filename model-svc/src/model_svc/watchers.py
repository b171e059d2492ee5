"""Watchers of downloads, on whichever replica they call: every write to a download's row is
announced (NOTIFY downloads_changed, at most about once a second per running download, as the
workers throttle their writes), each replica LISTENs and re-reads the rows its own watchers
follow. The replica running a download also pushes its progress between writes. While the
LISTEN connection is down, watchers poll the row once a second instead."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from bodhi_common.notify import listen_forever
from bodhi_common.tasks import cancel
from model_svc.domain import Download

log = logging.getLogger(__name__)

CHANNEL = "downloads_changed"
TERMINAL = ("completed", "error", "cancelled")
_POLL_SECONDS = 1.0


class Watchers:
    """Streams of one download's changes to the watchers of this replica."""

    def __init__(self, read: Callable[[str], Awaitable[Download]]) -> None:
        self._read = read
        self._queues: dict[str, set[asyncio.Queue[Download]]] = {}
        self._listening = False
        self._reading: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()  # changed again while being read

    async def listen(self, database_url: str) -> None:
        """Follow the changes other replicas write, for the life of the service."""
        try:
            await listen_forever(database_url, CHANNEL, self._changed, self._up, self._down)
        finally:
            await cancel(*self._reading.values())

    async def watch(self, download_id: str) -> AsyncIterator[Download]:
        """The download now, then each change, never older than the last, until it ends."""
        queue: asyncio.Queue[Download] = asyncio.Queue(maxsize=64)
        self._queues.setdefault(download_id, set()).add(queue)  # before reading: miss nothing
        try:
            current = await self._read(download_id)
            yield current
            while current.status not in TERMINAL:
                try:
                    update = await asyncio.wait_for(queue.get(), timeout=_POLL_SECONDS)
                except TimeoutError:
                    if self._listening:
                        continue
                    update = await self._read(download_id)
                if _newer(update, current):
                    current = update
                    yield current
        finally:
            watching = self._queues[download_id]
            watching.discard(queue)
            if not watching:
                del self._queues[download_id]

    def publish(self, download: Download) -> None:
        """Give this state of the download to its watchers here."""
        for queue in self._queues.get(download.id, ()):
            if queue.full():  # a slow watcher only needs the latest state
                queue.get_nowait()
            queue.put_nowait(download)

    def _changed(self, download_id: str) -> None:
        if download_id not in self._queues:
            return  # nobody here follows it
        if download_id in self._reading:  # a burst: one more read once this one is done
            self._again.add(download_id)
            return
        task = asyncio.create_task(self._reread(download_id))
        self._reading[download_id] = task

    async def _reread(self, download_id: str) -> None:
        try:
            while download_id in self._queues:
                self._again.discard(download_id)
                try:
                    self.publish(await self._read(download_id))
                except Exception:  # the next change, or the poll, tries again
                    log.warning("cannot read a changed download", extra={"download": download_id})
                if download_id not in self._again:
                    return
        finally:
            del self._reading[download_id]

    def _up(self) -> None:
        self._listening = True
        for download_id in list(self._queues):  # changes while not listening were not announced
            self._changed(download_id)

    def _down(self) -> None:
        self._listening = False


def _newer(update: Download, current: Download) -> bool:
    """Later than what the watcher has: an end, a later write, or more bytes since the write
    (the running replica's pushes between writes carry the time of the last write)."""
    if update.status != current.status:
        return update.status in TERMINAL
    return (update.updated_at, update.downloaded_bytes) > (
        current.updated_at,
        current.downloaded_bytes,
    )
