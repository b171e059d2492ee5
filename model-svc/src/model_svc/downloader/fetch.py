"""Download one remote file into a stable partial path: parallel parts, resume, verify."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from bodhi_common.clock import Clock
from bodhi_common.errors import Cancelled, DataLoss, ResourceExhausted
from model_svc.downloader.disk import DiskWriter
from model_svc.downloader.hashing import expected_digest
from model_svc.downloader.journal import Part, discard, plan_parts, recorded_parts
from model_svc.downloader.remote import RemoteFile
from model_svc.downloader.transfer import PartFetcher, RetryPolicy

MiB = 1024 * 1024


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding `path`."""
    return shutil.disk_usage(path).free


async def fetch(
    http: aiohttp.ClientSession,
    remote: RemoteFile,
    partial: Path,
    *,
    token: str | None,
    on_progress: Callable[[int], None],
    cancel: asyncio.Event,
    clock: Clock,
    parts: int = 4,
    part_min_bytes: int = 8 * MiB,
    stall_seconds: float = 30.0,
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen, never mutated)
    flush_bytes: int | None = None,
    flush_seconds: float = 1.0,
    disk_margin: int = 64 * MiB,
    queue_bytes: int = 4 * MiB,
    batch_bytes: int = MiB // 2,
    disk_free: Callable[[Path], int] = free_bytes,
) -> None:
    """Download `remote` into `partial`, resuming from its sidecar, and verify its checksum.

    Returns when `partial` holds the whole, verified file (ready for `place`). Raises
    Cancelled (download_cancelled; the partial is kept) when `cancel` is set, ResourceExhausted
    (disk_full; nothing written, or the partial kept when the disk fills up on the way) when
    free space cannot hold the rest plus `disk_margin`, Unavailable (hub_unavailable) when a
    part keeps failing, and DataLoss (hub_checksum_mismatch; the partial is deleted) when the
    bytes do not hash to the Hub's checksum. `on_progress` gets the bytes present so far.

    A crash re-fetches at most what arrived after the last flush — `flush_bytes` (default: a
    400th of the file, 1–8 MiB) or `flush_seconds` — plus what was still queued for the disk
    (`queue_bytes` + `batch_bytes` per part) or in the socket buffers.
    """
    partial.parent.mkdir(parents=True, exist_ok=True)
    recorded = recorded_parts(partial, remote) if remote.accept_ranges else None
    layout = recorded or plan_parts(
        remote.size, ranged=remote.accept_ranges, parts=parts, part_min_bytes=part_min_bytes
    )
    _check_free_space(partial, remote, layout, disk_margin, disk_free)
    expected = expected_digest(remote)
    disk = DiskWriter(
        partial,
        remote,
        layout,
        None if expected is None else expected[0],
        fresh=recorded is None,
        flush_bytes=flush_bytes or min(max(remote.size // 400, MiB), 8 * MiB),
        flush_seconds=flush_seconds,
        queue_bytes=queue_bytes,
        batch_bytes=batch_bytes,
        clock=clock,
    )
    fetcher = PartFetcher(
        http,
        remote,
        layout,
        disk,
        token=token,
        stall_seconds=stall_seconds,
        retry=retry,
        clock=clock,
        on_progress=on_progress,
    )
    digest = await _download(fetcher, disk, parts, cancel, on_progress)
    if expected is not None and digest != expected[1]:
        discard(partial)
        raise DataLoss(
            f"{remote.filename} from {remote.repo} did not match the Hub's checksum; "
            "the partial file was deleted, pull it again",
            code="hub_checksum_mismatch",
        )


def _check_free_space(
    partial: Path,
    remote: RemoteFile,
    layout: list[Part],
    margin: int,
    disk_free: Callable[[Path], int],
) -> None:
    """Refuse to start (writing nothing) when the rest of the file plus a margin won't fit."""
    needed = remote.size - sum(p.done for p in layout) + margin
    if disk_free(partial.parent) < needed:
        raise ResourceExhausted(
            f"not enough disk space for {remote.filename}: it needs {needed} free bytes "
            "(the rest of the file plus a margin)",
            code="disk_full",
        )


async def _download(
    fetcher: PartFetcher,
    disk: DiskWriter,
    parts: int,
    cancel: asyncio.Event,
    on_progress: Callable[[int], None],
) -> str | None:
    """Run the part workers; the digest once all is written. Always leaves the sidecar flushed."""
    disk.start()
    try:
        on_progress(fetcher.received)
        pending = deque(i for i, p in enumerate(fetcher.parts) if not p.complete)
        count = min(max(parts, 1), len(pending))
        workers = [_worker(pending, fetcher, cancel) for _ in range(count)]
        cancelled = await _until_cancelled(workers, cancel)
        cancelled = cancelled or not all(p.complete for p in fetcher.parts)  # stopped by it
    except BaseException:
        await _close_quietly(disk)
        raise
    if cancelled:
        await _close_quietly(disk)
        raise Cancelled(
            "the download was cancelled; its partial file is kept", code="download_cancelled"
        )
    return await disk.close(verify=True)


async def _close_quietly(disk: DiskWriter) -> None:
    """Flush and close after a failure, keeping the first error the one raised."""
    with contextlib.suppress(Exception):  # a disk error here is secondary to the one raised
        await disk.close(verify=False)


async def _worker(pending: deque[int], fetcher: PartFetcher, cancel: asyncio.Event) -> None:
    """Take the next part in file order until none is left or the fetch is cancelled (a part
    started between the cancel and the workers' end would be sent for nothing)."""
    while pending and not cancel.is_set():
        await fetcher.run(pending.popleft())


async def _until_cancelled(workers: list[Coroutine[Any, Any, None]], cancel: asyncio.Event) -> bool:
    """Run `workers` to completion; True if `cancel` was set first. The first failure is raised."""
    tasks = [asyncio.ensure_future(w) for w in workers]
    stop = asyncio.ensure_future(cancel.wait())
    try:
        running: set[asyncio.Future[Any]] = set(tasks)
        while running:
            done, running = await asyncio.wait(
                running | {stop}, return_when=asyncio.FIRST_COMPLETED
            )
            if stop in done:
                return True
            running.discard(stop)
            for task in done:
                task.result()
        return False
    finally:
        for task in [*tasks, stop]:
            task.cancel()
        await asyncio.gather(*tasks, stop, return_exceptions=True)
