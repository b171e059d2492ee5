"""fetch: one stream or parallel parts, resumed after cuts and stalls, verified, cancellable."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from downloader_support import (
    MiB,
    Progress,
    fetch_into,
    first_byte,
    gets,
    home,
    http,
    hub,
    pull,
    remote_of,
    served,
    sha256_of,
)
from huggingface_hub import hf_hub_download

from bodhi_common.errors import Cancelled, DataLoss, ResourceExhausted, Unavailable
from bodhi_devstack.hub import LocalHub
from bodhi_devstack.hub_state import RequestRecord
from model_svc.downloader import RetryPolicy, partial_path, probe
from model_svc.downloader.journal import sidecar_path

__all__ = ["home", "http", "hub"]


def cached_by_huggingface_hub(home: Path, repo: str, filename: str, revision: str) -> Path:
    """Where huggingface_hub, offline, finds a file in our cache."""
    found = hf_hub_download(
        repo, filename, revision=revision, cache_dir=home / "hub", local_files_only=True
    )
    return Path(found)


async def test_one_stream_lands_verified_where_huggingface_hub_looks(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_gguf("acme/tiny-GGUF", "tiny.Q4_K_M.gguf", pad_to=3 * MiB)
    progress = Progress()

    placed = await pull(http, hub, f, home, progress=progress)

    assert cached_by_huggingface_hub(home, f.repo, f.filename, "main") == placed
    assert sha256_of(placed) == f.sha256
    assert [(r.range, r.status) for r in gets(hub, f)] == [(None, 200)]
    assert progress.seen == sorted(progress.seen)
    assert progress.seen[-1] == f.size
    assert not partial_path(home, "pull").exists()
    assert not sidecar_path(partial_path(home, "pull")).exists()


async def test_parallel_parts_cover_the_file_once_and_stream_at_the_same_time(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/big", "big.gguf", size=6 * MiB, seed=1)
    hub.fault(f.repo, f.filename, throttle=3 * MiB)  # per connection: 2 s for one stream

    in_flight: list[int] = []

    class Watch(Progress):
        def __call__(self, downloaded: int) -> None:
            super().__call__(downloaded)
            in_flight.append(sum(1 for r in gets(hub, f) if r.bytes_sent < asked(r, f.size)))

    placed = await pull(http, hub, f, home, parts=4, part_min_bytes=512 * 1024, progress=Watch())

    assert max(in_flight) >= 3, in_flight  # the parts overlap in time (the speed: bench/)
    assert cached_by_huggingface_hub(home, f.repo, f.filename, "main") == placed
    assert sha256_of(placed) == f.sha256
    requested = sorted(first_byte(r.range) or 0 for r in gets(hub, f))
    assert len(requested) == len(set(requested)) > 4
    assert served(hub, f) == f.size


def asked(request: RequestRecord, size: int) -> int:
    """Bytes a GET asks for: its `bytes=a-b` range, or the whole file."""
    if request.range is None:
        return size
    first, last = request.range.removeprefix("bytes=").split("-")
    return int(last) - int(first) + 1


async def test_a_cut_connection_resumes_with_a_range_from_where_it_stopped(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/cut", "model.gguf", size=4 * MiB, seed=2)
    cut = f.size * 40 // 100
    hub.fault(f.repo, f.filename, truncate_at=cut)

    placed = await pull(http, hub, f, home)

    assert sha256_of(placed) == f.sha256
    first, second = gets(hub, f)
    assert (first.range, first.bytes_sent) == (None, cut)
    assert second.range is not None
    assert second.range.startswith(f"bytes={cut}-")
    assert served(hub, f) == f.size


async def test_a_stalled_stream_is_dropped_and_resumed(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/stall", "model.gguf", size=2 * MiB, seed=3)
    stall = f.size // 2
    hub.fault(f.repo, f.filename, stall_at=stall, stall_seconds=30)

    started = time.monotonic()
    placed = await pull(http, hub, f, home, stall_seconds=0.3)

    assert time.monotonic() - started < 3
    assert sha256_of(placed) == f.sha256
    assert [first_byte(r.range) for r in gets(hub, f)] == [None, stall]


async def test_a_busy_hub_is_retried_after_the_time_it_asks_for(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/busy", "model.gguf", size=MiB, seed=4)
    hub.fault(f.repo, f.filename, status=503, times=2, retry_after=0.4)

    started = time.monotonic()
    placed = await pull(http, hub, f, home, retry=RetryPolicy(base_delay=0.01))

    assert time.monotonic() - started >= 0.8  # not the 10-20 ms its own backoff would wait
    assert sha256_of(placed) == f.sha256
    assert [r.status for r in gets(hub, f)] == [503, 503, 200]


async def test_a_hub_that_keeps_failing_gives_up_after_bounded_retries(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/down", "model.gguf", size=MiB, seed=5)
    hub.fault(f.repo, f.filename, status=429, times=100)

    with pytest.raises(Unavailable) as caught:
        await pull(http, hub, f, home, retry=RetryPolicy(attempts=3, base_delay=0.01))

    assert caught.value.code == "hub_unavailable"
    assert len(gets(hub, f)) == 3
    assert not (home / "hub").exists()


@pytest.mark.parametrize("parts", [1, 4])
async def test_a_flipped_byte_fails_the_checksum_and_nothing_is_placed(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path, parts: int
) -> None:
    f = hub.add_file("acme/corrupt", "model.gguf", size=4 * MiB, seed=6)
    hub.fault(f.repo, f.filename, flip_byte=f.size - 1000)  # in the last part
    partial = partial_path(home, "pull")

    with pytest.raises(DataLoss) as caught:
        await pull(http, hub, f, home, parts=parts)

    assert caught.value.code == "hub_checksum_mismatch"
    assert not partial.exists()
    assert not sidecar_path(partial).exists()
    assert not (home / "hub").exists()
    assert served(hub, f) == f.size


async def test_cancel_stops_at_once_keeps_the_partial_and_the_next_fetch_resumes(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/cancel", "model.gguf", size=4 * MiB, seed=7)
    half = f.size // 2
    hub.fault(f.repo, f.filename, stall_at=half, stall_seconds=30)  # cancel lands mid-stall
    remote = await remote_of(http, hub, f)
    partial = partial_path(home, "pull")

    started = time.monotonic()
    with pytest.raises(Cancelled) as caught:
        await fetch_into(http, remote, partial, progress=Progress(cancel_at=half), stall_seconds=60)
    cancelled_in = time.monotonic() - started
    hub.fault(f.repo, f.filename)
    progress = Progress()
    await fetch_into(http, remote, partial, progress=progress)

    assert caught.value.code == "download_cancelled"
    assert cancelled_in < 1
    assert progress.seen[0] == half  # progress resumes where it was
    assert [first_byte(r.range) for r in gets(hub, f)] == [None, half]
    assert served(hub, f) == f.size  # not one byte fetched twice
    assert sha256_of(partial) == f.sha256


async def test_a_resumed_parallel_fetch_completes_from_the_parts_on_disk(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/resume", "model.gguf", size=4 * MiB, seed=8)
    partial = partial_path(home, "pull")

    await cancel_parallel_fetch_at_three_quarters(http, hub, f.repo, f.filename, partial)
    await fetch_into(http, await remote_of(http, hub, f), partial, **PARALLEL)

    assert sha256_of(partial) == f.sha256
    # Only what was in flight on the other connections when the cancel came is fetched twice.
    assert served(hub, f) <= f.size + 3 * 256 * 1024


async def test_bytes_that_changed_on_disk_while_paused_fail_the_resumed_fetch(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/tampered", "model.gguf", size=4 * MiB, seed=8)
    partial = partial_path(home, "pull")
    await cancel_parallel_fetch_at_three_quarters(http, hub, f.repo, f.filename, partial)
    with partial.open("r+b") as file:  # a byte of the first part, long since written
        file.seek(1000)
        byte = file.read(1)
        file.seek(1000)
        file.write(bytes([byte[0] ^ 0xFF]))

    with pytest.raises(DataLoss) as caught:
        await fetch_into(http, await remote_of(http, hub, f), partial, **PARALLEL)

    assert caught.value.code == "hub_checksum_mismatch"
    assert not partial.exists()


PARALLEL: dict[str, Any] = {"parts": 4, "part_min_bytes": 256 * 1024}


async def cancel_parallel_fetch_at_three_quarters(
    http: aiohttp.ClientSession, hub: LocalHub, repo: str, filename: str, partial: Path
) -> None:
    """Start a 4-part fetch, stall one part, cancel at 3/4 of the file; clear the fault."""
    hub.fault(repo, filename, stall_at=3 * MiB + 5, stall_seconds=30)
    remote = await probe(
        http, endpoint=hub.url, repo=repo, filename=filename, revision="main", token=None
    )
    with pytest.raises(Cancelled):
        await fetch_into(http, remote, partial, progress=Progress(cancel_at=3 * MiB), **PARALLEL)
    hub.fault(repo, filename)


@pytest.mark.parametrize("limit", ["free space", "margin"])
async def test_too_little_disk_refuses_before_writing_anything(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path, limit: str
) -> None:
    f = hub.add_file("acme/huge", "model.gguf", size=MiB, seed=9)
    remote = await remote_of(http, hub, f)
    partial = partial_path(home, "pull")
    option = {"disk_free": lambda _: f.size} if limit == "free space" else {"disk_margin": 1 << 62}

    with pytest.raises(ResourceExhausted) as caught:
        await fetch_into(http, remote, partial, **option)

    assert caught.value.code == "disk_full"
    assert gets(hub, f) == []
    assert not partial.exists()
    assert not (home / "hub").exists()
