"""A fetch killed mid-file (SIGKILL) or stopped by a full disk resumes from its partial file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from downloader_support import (
    MiB,
    fetch_into,
    first_byte,
    gets,
    home,
    http,
    hub,
    remote_of,
    served,
    sha256_of,
)

from bodhi_devstack.hub import HubFile, LocalHub
from model_svc.downloader import partial_path
from model_svc.downloader.journal import sidecar_path

__all__ = ["home", "http", "hub"]

SUPPORT = Path(__file__).with_name("downloader_support.py")
FLUSH_BYTES = MiB
HUB_WRITE = 256 * 1024  # what the throttled hub hands the socket at once: at most this is in flight


def fetch_in_a_process(
    hub: LocalHub, f: HubFile, partial: Path, *limit: int
) -> subprocess.Popen[str]:
    """Run one fetch of `f` in a child process (see downloader_support)."""
    args = [hub.url, f.repo, f.filename, str(partial), str(FLUSH_BYTES), *map(str, limit)]
    return subprocess.Popen(
        [sys.executable, str(SUPPORT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when_half_written(process: subprocess.Popen[str], partial: Path, size: int) -> int:
    """SIGKILL the process once the partial file holds half the file; its size then."""
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if partial.exists() and partial.stat().st_size >= size // 2:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
    return partial.stat().st_size


async def test_a_fetch_killed_at_half_resumes_without_fetching_more_than_a_flush_again(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/crash", "model.gguf", size=32 * MiB, seed=11)
    hub.fault(f.repo, f.filename, throttle=16 * MiB)
    partial = partial_path(home, "crash")

    killed_at = kill_when_half_written(fetch_in_a_process(hub, f, partial), partial, f.size)
    hub.fault(f.repo, f.filename)
    await fetch_into(http, await remote_of(http, hub, f), partial)

    resumed_from = first_byte(gets(hub, f)[-1].range)
    refetched = served(hub, f) - f.size
    assert resumed_from is not None
    assert killed_at - FLUSH_BYTES - 64 * 1024 <= resumed_from <= killed_at
    assert 0 <= refetched <= f.size // 100 + FLUSH_BYTES + HUB_WRITE
    assert sha256_of(partial) == f.sha256
    print(f"killed at {killed_at}, resumed from {resumed_from}, re-fetched {refetched} bytes")


async def test_a_disk_that_fills_up_stops_the_fetch_and_keeps_the_offset_for_later(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/full", "model.gguf", size=4 * MiB, seed=12)
    partial = partial_path(home, "full")

    child = fetch_in_a_process(hub, f, partial, MiB)  # the "disk" holds 1 MiB of this file
    out, err = child.communicate(timeout=30)
    kept = partial.stat().st_size
    await fetch_into(http, await remote_of(http, hub, f), partial)

    assert (child.returncode, out.strip()) == (3, "disk_full"), err
    assert kept == MiB
    assert sidecar_path(partial).exists()
    assert first_byte(gets(hub, f)[-1].range) == MiB
    assert sha256_of(partial) == f.sha256
