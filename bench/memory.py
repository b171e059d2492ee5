"""Memory (PERFORMANCE.md P9), on a whole stack started like the proxy benchmark's
(identity_stack.launch), with the local upstream in a process of its own as the baseline: a bare
Python HTTP server (aiohttp) that holds nothing per request.

1. Idle RSS (VmRSS from /proc/<pid>/status, a process and its children) of every process of the
   stack, after setup and one chat, with nothing in flight.
2. Soak: constant-rate mixed traffic (half non-streaming chats, half streamed ones, sent on a
   wall-clock schedule) through the gateway with an API token, RSS sampled every few seconds;
   RSS growth after warm-up, errors and p99 per kind.

    uv run python bench/memory.py [--soak-seconds 120] [--rate 500] [--idle-only]

Writes bench/results/memory.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import uvloop
from benchkit import cpu_model, ms, percentile, write_results
from identity_stack import launch
from proxy import check, target
from proxy_async import Pool, stream_async
from proxy_http import Target
from proxy_latency import CHAT
from proxy_stack import prepare, recorder, rss_mb, tree, upstream, upstream_process

from bodhi_devstack.infra import SessionServers
from bodhi_devstack.stack import Stack

STREAM_CHAT = CHAT | {"stream": True}  # gpt-bench streams in 3 chunks without delay
SAMPLE_EVERY = 5.0


def processes(stack: Stack, upstream_pid: int) -> dict[str, list[int]]:
    found = {name: tree(child.pid) for name, child in stack.children.items()}
    return found | {"upstream (baseline)": [upstream_pid]}


def idle(procs: dict[str, list[int]]) -> dict[str, float]:
    return {name: rss_mb(pids) for name, pids in procs.items()}


async def soak(
    peer: Target, rate: float, seconds: float, procs: dict[str, list[int]]
) -> dict[str, Any]:
    pool = Pool(peer, 256)
    await pool.fill(16)
    plain, streamed = peer.chat(CHAT), peer.post("/chat/completions",
                                                 msgspec.json.encode(STREAM_CHAT))  # fmt: skip
    latencies: dict[str, list[float]] = {"chat": [], "stream_ttfb": [], "stream_total": []}
    errors = {"chat": 0, "stream": 0}
    samples: list[dict[str, Any]] = []

    async def fire(i: int, due: float) -> None:
        try:
            if i % 2 == 0:
                status = await pool.call(plain)
                if status != 200:
                    errors["chat"] += 1
                    return
                latencies["chat"].append(time.perf_counter() - due)
                return
            events = await stream_async(peer, streamed)
            if events.status != 200 or not events.payloads or events.payloads[-1] != b"[DONE]":
                errors["stream"] += 1
                return
            latencies["stream_ttfb"].append(events.times[0] - due)
            latencies["stream_total"].append(events.times[-1] - due)
        except Exception:  # a refused or dropped connection
            errors["chat" if i % 2 == 0 else "stream"] += 1

    async def sampler(start: float) -> None:
        while True:
            samples.append({"t_s": round(time.perf_counter() - start, 1)} | idle(procs))
            await asyncio.sleep(SAMPLE_EVERY)

    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.05
    n = round(rate * seconds)
    sampling = loop.create_task(sampler(start))
    i = 0
    while i < n:
        now = time.perf_counter()
        while i < n and start + i / rate <= now:
            task = loop.create_task(fire(i, start + i / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    sampling.cancel()
    samples.append({"t_s": round(time.perf_counter() - start, 1)} | idle(procs))
    pool.close()
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": n,
        "errors": errors,
        "unanswered": len(tasks),
        "p50_ms": {k: ms(percentile(v, 0.5) * 1000) if v else None for k, v in latencies.items()},
        "p99_ms": {k: ms(percentile(v, 0.99) * 1000) if v else None for k, v in latencies.items()},
        "samples": samples,
    }


def growth(samples: list[dict[str, Any]], warm_up_s: float) -> dict[str, Any]:
    """Per process: RSS at the end of warm-up, at the end, and the growth between them (%)."""
    after = [s for s in samples if s["t_s"] >= warm_up_s] or samples[-1:]
    first, last = after[0], samples[-1]
    out: dict[str, Any] = {}
    for name in first:
        if name == "t_s":
            continue
        peak = max(s[name] for s in after)
        out[name] = {
            "after_warm_up_mb": first[name],
            "end_mb": last[name],
            "peak_mb": peak,
            "growth_pct": round((last[name] - first[name]) / first[name] * 100, 2)
            if first[name]
            else None,
        }
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bodhi-bench-memory-") as tmp,
        upstream(__file__) as (upstream_url, upstream_pid),
        recorder() as rec,
        SessionServers() as servers,
        launch(servers, Path(tmp)) as stack,
    ):
        token = prepare(stack, upstream_url, rec.url)
        peer = target("gateway", f"{stack.gateway_url}/v1", token)
        if (problem := check(peer)) is not None:
            raise RuntimeError(f"a chat through the gateway failed: {problem}")
        procs = processes(stack, upstream_pid)
        time.sleep(3.0)  # let start-up garbage settle
        result: dict[str, Any] = {"idle_rss_mb": idle(procs)}
        if not args.idle_only:
            result["soak"] = uvloop.run(soak(peer, args.rate, args.soak_seconds, procs))
            warm_up = min(60.0, args.soak_seconds / 4)
            result["soak"]["warm_up_s"] = warm_up
            result["soak"]["growth"] = growth(result["soak"]["samples"], warm_up)
    return result


def report(result: dict[str, Any]) -> str:
    limits = {"gateway": 80.0}
    lines = [
        "# Memory (P9)",
        "",
        f"{result['machine']['cpu']}, {result['machine']['cores']} cores, Python "
        f"{platform.python_version()}. RSS = VmRSS of the process and its children.",
        "",
        "## Idle RSS after setup and one chat",
        "",
        "| process | RSS MB | target |",
        "|---|---|---|",
    ]
    for name, mb in result["idle_rss_mb"].items():
        limit = limits.get(name, 70.0) if name in SERVICE_LIKE else None
        verdict = "" if limit is None else f"<= {limit:g} ({'met' if mb <= limit else 'missed'})"
        lines.append(f"| {name} | {mb} | {verdict} |")
    soak_result = result.get("soak")
    if soak_result is None:
        lines += ["", "Soak: not run (--idle-only)."]
        return "\n".join(lines) + "\n"
    s = soak_result
    lines += [
        "",
        f"## Soak: {s['rate']:g} req/s for {s['seconds']:g} s (half streamed), through the gateway",
        "",
        f"Sent {s['sent']}; errors: chat {s['errors']['chat']}, stream {s['errors']['stream']}, "
        f"unanswered {s['unanswered']}. Latency from each request's scheduled time: chat p50 / p99 "
        f"{s['p50_ms']['chat']} / {s['p99_ms']['chat']} ms; stream first event "
        f"{s['p50_ms']['stream_ttfb']} / {s['p99_ms']['stream_ttfb']} ms; stream end "
        f"{s['p50_ms']['stream_total']} / {s['p99_ms']['stream_total']} ms.",
        "",
        f"RSS growth after a warm-up of {s['warm_up_s']:g} s (sampled every {SAMPLE_EVERY:g} s; "
        "target <= 5 %):",
        "",
        "| process | after warm-up MB | end MB | peak MB | growth % |",
        "|---|---|---|---|---|",
    ]
    for name, row in s["growth"].items():
        lines.append(
            f"| {name} | {row['after_warm_up_mb']} | {row['end_mb']} | {row['peak_mb']} | "
            f"{row['growth_pct']} |"
        )
    return "\n".join(lines) + "\n"


SERVICE_LIKE = ("gateway", "auth", "secret", "model", "aiproxy")


def main() -> None:
    if sys.argv[1:] == ["--upstream"]:
        upstream_process()
        return
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--soak-seconds", type=float, default=120.0)
    cli.add_argument("--rate", type=float, default=500.0)
    cli.add_argument("--idle-only", action="store_true")
    cli.add_argument("--name", default="memory", help="results file name (bench/results/<name>)")
    args = cli.parse_args()
    started = time.monotonic()
    result = measure(args)
    result["machine"] = {"cpu": cpu_model(), "cores": os.cpu_count()}
    result["settings"] = vars(args)
    result["total_run_s"] = round(time.monotonic() - started, 1)
    write_results(args.name, report(result), result)


if __name__ == "__main__":
    main()
