"""model-svc download-engine benchmark (issue #5, PERFORMANCE.md P8), side by side against the
same local Hub (bodhi_devstack.hub, run in a process of its own so it does not share our GIL):

1. Throughput of one file: `curl -o` (and curl followed by `openssl dgst -sha256`, the fair
   baseline for a verified download), `hf_hub_download`, and our `fetch` as one stream and in
   parallel parts.
   Rounds rotate the order; medians are reported with the CPU seconds each client spent per GiB
   and the bytes it read back from the file system (P8: "sha256 verified without a second full
   read").
2. Parallel ranged parts against a Hub that throttles each connection, vs one stream.
3. SIGKILL at 50 %: a child process downloads, is killed once half the file has arrived, and a
   new fetch resumes from the partial file; the bytes the Hub served beyond the file's size are
   what the crash cost.

    uv run python bench/downloads.py [--size-mib 1024] [--rounds 3] [--throttle-mib 32]

Writes bench/results/downloads.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import importlib.metadata
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from benchkit import cpu_model, write_results

from bodhi_common.clock import SystemClock
from model_svc.downloader import fetch, partial_path, probe

REPO, FILE = "acme/bench-GGUF", "bench.Q8_0.gguf"
MiB = 1 << 20
GiB = 1 << 30
Sample = dict[str, float]


# --- the processes: a Hub of its own, a downloader to kill ------------------------------------


def hub_process(size: int, throttle: int | None) -> None:
    """Child mode: serve one generated file, print "<url> <sha256>", wait to be terminated."""
    from bodhi_devstack.hub import LocalHub

    with LocalHub() as hub:
        served = hub.add_file(REPO, FILE, size=size, seed=11)
        if throttle:
            hub.fault(REPO, FILE, throttle=throttle)
        print(hub.url, served.sha256, flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


@contextmanager
def hub(size: int, throttle: int | None = None) -> Iterator[tuple[str, str]]:
    """A Hub in its own process: (url, sha256 of the file)."""
    args = [sys.executable, __file__, "--hub", str(size), str(throttle or 0)]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert child.stdout is not None
        url, sha256 = child.stdout.readline().split()
        yield url, sha256
    finally:
        child.terminate()
        child.wait(10)


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None, sock_read=30)
    )


async def download(url: str, partial: Path, parts: int, report: Callable[[int], None]) -> None:
    """What model-svc does for one pull (service defaults: 64 MiB smallest part)."""
    async with session() as http:
        remote = await probe(
            http, endpoint=url, repo=REPO, filename=FILE, revision="main", token=None
        )
        await fetch(
            http, remote, partial, token=None, parts=parts, part_min_bytes=64 * MiB,
            on_progress=report, cancel=asyncio.Event(), clock=SystemClock(),
        )  # fmt: skip


def child_download(url: str, partial: str, size: int) -> None:
    """Child mode: download, printing "half" once half of the file has arrived."""
    said = False

    def report(received: int) -> None:
        nonlocal said
        if not said and received >= size // 2:
            said = True
            print("half", flush=True)

    asyncio.run(download(url, Path(partial), 1, report))


# --- 1. throughput -----------------------------------------------------------------------------


def read_bytes() -> int:
    """Bytes this process has read through read(2)-like calls (page cache included)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def ours(url: str, size: int, parts: int, work: Path) -> Sample:
    partial = partial_path(work, f"ours-{parts}")
    cpu, read, start = cpu_seconds(), read_bytes(), time.perf_counter()
    asyncio.run(download(url, partial, parts, lambda _: None))
    elapsed = time.perf_counter() - start
    sample = {"mb_s": size / elapsed / 1e6, "cpu_s_per_gib": (cpu_seconds() - cpu) * GiB / size,
              "read_back": (read_bytes() - read) / size}  # fmt: skip
    partial.unlink()
    return sample


def external(args: list[str]) -> tuple[float, float]:
    """(seconds, CPU seconds) of a child process."""
    cpu, start = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)  # noqa: S603 - fixed tools
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def curl(url: str, size: int, work: Path, *, verify: bool) -> Sample:
    target = work / "curl.bin"
    elapsed, cpu = external(["curl", "-sf", "-o", str(target), f"{url}/{REPO}/resolve/main/{FILE}"])
    if verify:
        # openssl, not coreutils' sha256sum: it uses the CPU's SHA extensions (6x faster here)
        more, more_cpu = external(["openssl", "dgst", "-sha256", str(target)])
        elapsed, cpu = elapsed + more, cpu + more_cpu
    target.unlink()
    return {"mb_s": size / elapsed / 1e6, "cpu_s_per_gib": cpu * GiB / size,
            "read_back": 1.0 if verify else 0.0}  # fmt: skip


HF_SCRIPT = """
import os, sys, time
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
from huggingface_hub import hf_hub_download
start = time.perf_counter()
hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3], endpoint=sys.argv[4])
print(time.perf_counter() - start)
"""


def hf(url: str, size: int, work: Path) -> Sample:
    """huggingface_hub in a process of its own; the time of the call (not the interpreter's
    start-up), the CPU of the whole process."""
    cache = work / "hf-cache"
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
    args = [sys.executable, "-c", HF_SCRIPT, REPO, FILE, str(cache), url]
    done = subprocess.run(args, check=True, capture_output=True, text=True)  # noqa: S603
    elapsed, cpu = float(done.stdout.split()[-1]), cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
    shutil.rmtree(cache)
    return {"mb_s": size / elapsed / 1e6, "cpu_s_per_gib": cpu * GiB / size, "read_back": -1.0}


def rounds(runners: dict[str, Callable[[], Sample]], count: int) -> dict[str, dict[str, Any]]:
    """Each runner `count` times, the order rotated per round; medians per runner."""
    samples: dict[str, list[Sample]] = {name: [] for name in runners}
    names = list(runners)
    for i in range(count):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            samples[name].append(runners[name]())
    medians: dict[str, dict[str, Any]] = {}
    for name, found in samples.items():
        medians[name] = {key: statistics.median(s[key] for s in found) for key in found[0]}
        medians[name]["runs_mb_s"] = [round(s["mb_s"]) for s in found]
    return medians


# --- 3. SIGKILL at 50 % --------------------------------------------------------------------------


def killed_at_half(size: int, throttle: int, work: Path) -> dict[str, float]:
    """A child downloads from a throttled Hub (so "half" is exact to a few MiB) and is SIGKILLed
    once half the file has arrived; a fetch here resumes from its partial file at full speed.
    Re-fetched = every byte the Hub sent, both processes together, beyond the file's size."""
    from bodhi_devstack.hub import LocalHub

    partial = partial_path(work, "killed")
    with LocalHub() as local:
        served = local.add_file(REPO, FILE, size=size, seed=12)
        local.fault(REPO, FILE, throttle=throttle)
        args = [sys.executable, __file__, "--child", local.url, str(partial), str(size)]
        child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)  # noqa: S603
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "half"
        child.send_signal(signal.SIGKILL)
        child.wait()
        local.fault(REPO, FILE)
        asyncio.run(download(local.url, partial, 1, lambda _: None))
        sent = sum(r.bytes_sent for r in local.requests(REPO, FILE) if r.method == "GET")
    digest = hashlib.sha256()
    with partial.open("rb") as data:
        while chunk := data.read(8 * MiB):
            digest.update(chunk)
    assert digest.hexdigest() == served.sha256, "the resumed file does not hash right"
    partial.unlink()
    return {"refetched_bytes": sent - size, "refetched_pct": 100 * (sent - size) / size}


# --- report ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--throttle-mib", type=int, default=32)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * MiB
    result: dict[str, Any] = {
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "kernel": platform.release(),
                    "python": platform.python_version()},
        "versions": {p: importlib.metadata.version(p) for p in ("aiohttp", "huggingface_hub")},
        "size_bytes": size,
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with hub(size) as (url, _):
            result["throughput"] = rounds(
                {
                    "curl -o": lambda: curl(url, size, work, verify=False),
                    "curl -o, then openssl sha256": lambda: curl(url, size, work, verify=True),
                    "hf_hub_download": lambda: hf(url, size, work),
                    "fetch, 1 stream": lambda: ours(url, size, 1, work),
                    "fetch, 4 parts": lambda: ours(url, size, 4, work),
                },
                args.rounds,
            )
        throttle = args.throttle_mib * MiB
        with hub(size, throttle) as (url, _):
            result["throttled"] = rounds(
                {f"fetch, {n} part{'s' * (n > 1)}": functools.partial(ours, url, size, n, work)
                 for n in (1, 4, 8)},
                1,
            )  # fmt: skip
        result["killed"] = [killed_at_half(size, 200 * MiB, work) for _ in range(args.kills)]
    write_results("downloads", report(result, args), result)


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    m, size = result["machine"], result["size_bytes"]
    out = [
        "# Download engine (model-svc) — P8",
        "",
        f"{m['cpu']}, {m['cpus']} CPUs, Linux {m['kernel']}, Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in result["versions"].items())
        + f". One {size // MiB} MiB file from the local Hub in its own process (it shares the "
        f"CPUs); {args.rounds} rounds, order rotated, medians. Files land on the same disk.",
        "",
        "## Throughput",
        "",
        "| client | MB/s | vs curl -o | vs curl+sha256 | CPU s/GiB | read back | runs (MB/s) |",
        "|---|---|---|---|---|---|---|",
    ]
    t = result["throughput"]
    curl_rate, verified = t["curl -o"]["mb_s"], t["curl -o, then openssl sha256"]["mb_s"]
    for name, s in t.items():
        back = "n/a" if s["read_back"] < 0 else f"{s['read_back']:.0%}"
        out.append(
            f"| {name} | {s['mb_s']:.0f} | {s['mb_s'] / curl_rate:.0%} | "
            f"{s['mb_s'] / verified:.0%} | {s['cpu_s_per_gib']:.2f} | {back} | {s['runs_mb_s']} |"
        )
    th = result["throttled"]
    single = th["fetch, 1 part"]["mb_s"]
    title = f"## Against a Hub throttled to {args.throttle_mib} MiB/s per connection"
    out += ["", title, ""]
    out += ["| client | MB/s | vs one stream |", "|---|---|---|"]
    out += [f"| {n} | {s['mb_s']:.0f} | {s['mb_s'] / single:.1f}x |" for n, s in th.items()]
    kills = [k["refetched_pct"] for k in result["killed"]]
    out += [
        "",
        "## SIGKILL at 50 %",
        "",
        f"Re-fetched beyond the file's size, per trial: {', '.join(f'{k:.2f} %' for k in kills)} "
        f"(max {max(kills):.2f} %); every resumed file hashed right.",
        "",
        "`read back`: bytes the downloading process read through the file system per byte of "
        "the file (the page cache included; the openssl check reads the file once).",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--hub"]:
        hub_process(int(sys.argv[2]), int(sys.argv[3]) or None)
    elif sys.argv[1:2] == ["--child"]:
        child_download(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
