"""Pulls: one pending download per file (a unique partial index), a bounded pool of workers that
claim downloads with a renewable lease, progress written to the database at most once a second
and pushed to watchers on every replica (watchers.py), and downloads resumed after a crash or
restart (the lease lapses, a worker here or on another replica claims it again, and the
downloader resumes from its partial file)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from bodhi_common.clock import Clock
from bodhi_common.errors import Cancelled, FailedPrecondition, NotFound, ServiceError
from bodhi_common.metrics import Metrics
from bodhi_common.tasks import cancel
from model_svc import cache, downloader
from model_svc.alias_store import AliasStore
from model_svc.catalog import Catalog
from model_svc.domain import Download, UserAlias
from model_svc.download_store import DownloadStore
from model_svc.hub_token import HubTokens
from model_svc.settings import ModelSettings
from model_svc.watchers import Watchers

log = logging.getLogger(__name__)

_REPORT_SECONDS = 0.25  # watchers
_WRITE_SECONDS = 1.0  # database


class Downloads:
    """Start, follow and cancel pulls; run the workers."""

    def __init__(
        self, store: DownloadStore, aliases: AliasStore, catalog: Catalog, settings: ModelSettings,
        http: aiohttp.ClientSession, tokens: HubTokens, clock: Clock,
    ) -> None:  # fmt: skip
        self._store = store
        self._tokens = tokens
        self._aliases = aliases
        self._catalog = catalog
        self._settings = settings
        self._http = http
        self._clock = clock
        self._worker = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._wanted = 0
        self._running = 0
        self._cancels: dict[str, asyncio.Event] = {}
        self._watchers = Watchers(store.get)
        self._listener: asyncio.Task[None] | None = None
        self.received_bytes = 0  # from the Hub by this replica, for metrics

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def __aenter__(self) -> Downloads:
        self._listener = asyncio.create_task(self._watchers.listen(self._settings.database_url))
        self.resize(self._settings.bodhi_download_workers)
        return self

    def resize(self, workers: int) -> None:
        """Run `workers` download workers from now on (BODHI_DOWNLOAD_WORKERS, editable live):
        new ones start at once; surplus ones stop once their current download is done."""
        self._tasks = [t for t in self._tasks if not t.done()]
        self._wanted = workers
        for _ in range(workers - len(self._tasks)):
            self._tasks.append(asyncio.create_task(self._work()))
        self._wake.set()

    async def __aexit__(self, *exc: object) -> None:
        for event in self._cancels.values():
            event.set()
        await cancel(*self._tasks, self._listener)
        await self._store.release(self._worker)

    def measure(self, metrics: Metrics) -> None:
        """Export the downloads this replica runs and the bytes they received."""
        running = "Downloads this replica is running"
        metrics.gauge("bodhi_downloads_in_flight", running, lambda: len(self._cancels))
        received = "Bytes received from the Hub by this replica"
        metrics.counter("bodhi_download_bytes", received, lambda: self.received_bytes)

    async def pull(
        self, repo: str, filename: str, revision: str, alias: str | None = None
    ) -> tuple[Download, bool]:
        """A pending download of the file, new (True) or already running (False)."""
        if self._settings.hf_hub_offline:
            raise FailedPrecondition("the Hub is offline (HF_HUB_OFFLINE)", code="hub_offline")
        revision = revision or "main"
        # find also refuses names that could lead out of the cache (invalid_repo, ...)
        if cache.find(self._settings.hub_cache, repo, filename, revision) is not None:
            raise FailedPrecondition(
                f"{filename} of {repo} at {revision} is already in the cache",
                code="file_already_exists",
            )
        download, created = await self._store.pull(repo, filename, revision, alias, self._now())
        self._wake.set()
        return download, created

    async def pull_alias(self, alias: str) -> tuple[Download, bool]:
        """Pull a catalog model; its user alias is created when the download completes."""
        model = self._catalog.find(alias)
        await self._refuse_taken(alias)
        return await self.pull(model.repo, model.filename, model.snapshot, alias=alias)

    async def _refuse_taken(self, alias: str) -> None:
        """Refuse before downloading gigabytes whose alias could not be created."""
        try:
            await self._aliases.get(alias)
        except NotFound:
            return
        raise FailedPrecondition(
            f"alias {alias!r} already exists; delete it to pull the catalog model again",
            code="alias_exists",
        )

    async def get(self, download_id: str) -> Download:
        """One download."""
        return await self._store.get(download_id)

    async def list(self, limit: int, offset: int) -> tuple[list[Download], int]:
        """Downloads, newest first, and the total."""
        return await self._store.list(limit, offset)

    async def cancel(self, download_id: str, delete_partial: bool) -> Download:
        """Stop a pending download; its partial file is kept for a later pull unless asked."""
        download = await self._store.cancel(download_id, self._now())
        event = self._cancels.get(download_id)
        if event is not None:
            event.set()
        if delete_partial and download.commit:
            downloader.discard(self._partial_path(download, download.commit))
        return download

    def watch(self, download_id: str) -> AsyncIterator[Download]:
        """The download now, then each change until it ends, whichever replica runs it."""
        return self._watchers.watch(download_id)

    async def _work(self) -> None:
        lease = self._settings.bodhi_download_lease_seconds
        self._running += 1
        while True:
            if self._running > self._wanted:  # fewer workers were asked for: this one goes
                self._running -= 1
                return
            download = await self._store.claim(self._worker, lease, self._now())
            if download is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    # Also wakes to take over downloads whose worker's lease lapsed.
                    await asyncio.wait_for(self._wake.wait(), timeout=lease / 3)
                continue
            await self._run(download)

    async def _run(self, download: Download) -> None:
        cancel = self._cancels.setdefault(download.id, asyncio.Event())
        try:
            await _Job(self, download, cancel).run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("download failed unexpectedly", extra={"download": download.id})
            await self._finish(download, "error", "internal error", "internal_error")
        finally:
            self._cancels.pop(download.id, None)

    async def _finish(
        self, download: Download, status: str, error: str | None, code: str | None
    ) -> None:
        values = {"error": error, "error_code": code}
        done = await self._store.finish(download.id, self._worker, status, values, self._now())
        self._watchers.publish(done or await self._store.get(download.id))

    def _partial_path(self, download: Download, commit: str) -> Path:
        """One partial file per file and commit, whichever download (or retry) fetches it."""
        identity = f"{download.repo}\0{download.filename}\0{commit}".encode()
        key = hashlib.sha256(identity).hexdigest()[:32]
        return downloader.partial_path(self._settings.home, key)


class _Job:
    """One download's run: probe, fetch with progress, place, create the alias, finish."""

    def __init__(self, owner: Downloads, download: Download, cancel: asyncio.Event) -> None:
        self._o = owner
        self._d = download
        self._cancel = cancel
        self._bytes = download.downloaded_bytes
        self._started = owner._clock.monotonic()
        self._first_bytes = download.downloaded_bytes
        self._present: int | None = None  # bytes on disk at the last progress report

    async def run(self) -> None:
        o, d, s = self._o, self._d, self._o._settings
        try:
            token = await o._tokens.current()
            remote = await downloader.probe(
                o._http, endpoint=s.hf_endpoint, repo=d.repo, filename=d.filename,
                revision=d.revision, token=token,
            )  # fmt: skip
            await self._write(commit=remote.commit, total_bytes=remote.size)
            partial = o._partial_path(d, remote.commit)
            reporter = asyncio.create_task(self._report())
            try:
                await downloader.fetch(
                    o._http, remote, partial, token=token, parts=s.bodhi_download_parts,
                    part_min_bytes=s.bodhi_download_part_min_mb * 1024 * 1024,
                    stall_seconds=s.bodhi_download_stall_seconds, on_progress=self._progress,
                    cancel=self._cancel, clock=o._clock,
                )  # fmt: skip
            finally:
                reporter.cancel()
            downloader.place(s.home, remote, d.repo, d.filename, d.revision, partial)
            await self._write(downloaded_bytes=remote.size)
            await self._complete(remote.commit)
        except Cancelled:
            return  # cancelled, or our lease was taken over: the row already says what happened
        except ServiceError as exc:
            await o._finish(d, "error", exc.message, exc.code)

    async def _complete(self, commit: str) -> None:
        o, d = self._o, self._d
        if d.alias is not None:
            model = o._catalog.find(d.alias)
            alias = UserAlias(
                alias=d.alias, repo=d.repo, filename=d.filename, snapshot=commit,
                request_params=model.request_params, context_params=model.context_params,
            )  # fmt: skip
            try:
                await o._aliases.create(alias, o._now())
            except ServiceError as exc:
                await o._finish(d, "error", f"downloaded, but {exc.message}", exc.code)
                return
        await o._finish(d, "completed", None, None)

    def _progress(self, downloaded: int) -> None:
        if self._present is not None:  # the first report is what a resume found on disk
            self._o.received_bytes += downloaded - self._present
        self._present = self._bytes = downloaded

    def _speed(self) -> float:
        elapsed = self._o._clock.monotonic() - self._started
        return (self._bytes - self._first_bytes) / elapsed if elapsed > 0 else 0.0

    async def _report(self) -> None:
        written = 0.0
        while True:
            await asyncio.sleep(_REPORT_SECONDS)
            now = self._o._clock.monotonic()
            if now - written >= _WRITE_SECONDS:
                written = now
                await self._write(downloaded_bytes=self._bytes, bytes_per_second=self._speed())
            else:
                update = {"downloaded_bytes": self._bytes, "bytes_per_second": self._speed()}
                self._o._watchers.publish(_with(self._d, update))

    async def _write(self, **values: Any) -> None:
        o = self._o
        if self._d.started_at is None:
            values["started_at"] = o._now()
        written = await o._store.progress(
            self._d.id, o._worker, values, o._settings.bodhi_download_lease_seconds, o._now()
        )
        if written is None:  # cancelled, or taken over after our lease lapsed: stop writing
            self._cancel.set()
            return
        self._d = written
        o._watchers.publish(written)


def _with(download: Download, values: dict[str, Any]) -> Download:
    return msgspec.structs.replace(download, **values)
