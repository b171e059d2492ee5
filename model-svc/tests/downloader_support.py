"""Helpers for the download-engine tests: a local Hub, an HTTP session, a whole pull in one call.

Run as a script (`python downloader_support.py ENDPOINT REPO FILENAME PARTIAL FLUSH_BYTES
[FILE_SIZE_LIMIT]`) it fetches one file into PARTIAL in a process of its own, so a test can
SIGKILL it mid-file or run it under RLIMIT_FSIZE (a disk that fills up); it prints "done" or the
error code it failed with.
"""

from __future__ import annotations

import asyncio
import hashlib
import resource
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bodhi_common.clock import SystemClock
from bodhi_common.errors import ServiceError
from bodhi_devstack.hub import HubFile, LocalHub, RequestRecord
from model_svc.downloader import RemoteFile, fetch, partial_path, place, probe

HUB_TOKEN = "hf_test_downloader_token"
MiB = 1024 * 1024


@pytest.fixture
def hub() -> Iterator[LocalHub]:
    """A local Hub that knows one token."""
    with LocalHub(tokens=[HUB_TOKEN]) as local:
        yield local


def session() -> aiohttp.ClientSession:
    """A session like the service's: no decompression, connect and read timeouts, no total."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=10)
    return aiohttp.ClientSession(auto_decompress=False, timeout=timeout)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The session the service would pass in."""
    async with session() as client:
        yield client


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty HF_HOME."""
    return tmp_path / "hf_home"


class Progress:
    """Records what `on_progress` was told; can set a cancel event at a threshold."""

    def __init__(self, cancel_at: int | None = None) -> None:
        self.seen: list[int] = []
        self.cancel = asyncio.Event()
        self._cancel_at = cancel_at

    def __call__(self, downloaded: int) -> None:
        self.seen.append(downloaded)
        if self._cancel_at is not None and downloaded >= self._cancel_at:
            self.cancel.set()


async def remote_of(
    http: aiohttp.ClientSession, hub: LocalHub, f: HubFile, token: str | None = None
) -> RemoteFile:
    """Probe a file the hub serves."""
    return await probe(
        http, endpoint=hub.url, repo=f.repo, filename=f.filename, revision=f.revision, token=token
    )


async def fetch_into(
    http: aiohttp.ClientSession,
    remote: RemoteFile,
    partial: Path,
    *,
    progress: Progress | None = None,
    **options: Any,
) -> None:
    """`fetch` with test-friendly defaults (small parts, short stall timeout)."""
    progress = progress or Progress()
    options = {"parts": 1, "part_min_bytes": 256 * 1024, "stall_seconds": 5.0, **options}
    await fetch(
        http,
        remote,
        partial,
        token=options.pop("token", None),
        on_progress=progress,
        cancel=progress.cancel,
        clock=SystemClock(),
        **options,
    )


async def pull(
    http: aiohttp.ClientSession, hub: LocalHub, f: HubFile, home: Path, **options: Any
) -> Path:
    """Probe, fetch and place one file, as the service does; the snapshot path."""
    remote = await remote_of(http, hub, f, options.get("token"))
    partial = partial_path(home, "pull")
    await fetch_into(http, remote, partial, **options)
    return place(home, remote, f.repo, f.filename, f.revision, partial)


def gets(hub: LocalHub, f: HubFile) -> list[RequestRecord]:
    """The GETs of a file the hub has seen, in order."""
    return [r for r in hub.requests(f.repo, f.filename) if r.method == "GET"]


def served(hub: LocalHub, f: HubFile) -> int:
    """Body bytes the hub sent for a file, over all GETs."""
    return sum(r.bytes_sent for r in gets(hub, f))


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def first_byte(range_header: str | None) -> int | None:
    """The first byte a `bytes=a-b` Range header asks for."""
    if range_header is None:
        return None
    return int(range_header.removeprefix("bytes=").split("-")[0])


async def _fetch_in_this_process(argv: list[str]) -> None:
    endpoint, repo, filename, partial, flush_bytes = argv[:5]
    if len(argv) > 5:  # writes past this size fail with EFBIG (Python ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(argv[5]), int(argv[5])))
    async with session() as client:
        remote = await probe(
            client, endpoint=endpoint, repo=repo, filename=filename, revision="main", token=None
        )
        try:
            await fetch_into(client, remote, Path(partial), flush_bytes=int(flush_bytes) or None)
        except ServiceError as exc:
            print(exc.code, flush=True)
            raise SystemExit(3) from None
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(_fetch_in_this_process(sys.argv[1:]))
