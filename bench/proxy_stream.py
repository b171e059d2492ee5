"""P4 under concurrency and on disconnect (proxy.py): many streams at once, each checked event by
event for loss and order; and how soon a client's disconnect closes the upstream connection."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from typing import Any

import uvloop
from benchkit import ms
from proxy_async import stream_async
from proxy_http import Conn, Events, Target
from proxy_latency import read_stream
from proxy_stack import BEHAVIOURS, STALL, STALL_MODEL, cpu

from bodhi_devstack.upstream import LocalUpstream

LONG_TEXT = " ".join(f"w{i:03d}" for i in range(120))
LONG: dict[str, object] = {
    "model": "gpt-long",
    "stream": True,
    "messages": [{"role": "user", "content": LONG_TEXT}],
}
LONG_CHUNKS = BEHAVIOURS["gpt-long"].chunks


async def _many(target: Target, count: int) -> list[Events | BaseException]:
    raw = target.chat(LONG)
    return await asyncio.gather(
        *(stream_async(target, raw) for _ in range(count)), return_exceptions=True
    )


def concurrent(target: Target, count: int, procs: list[int]) -> dict[str, Any]:
    """`count` streams of LONG_CHUNKS content events (10 ms apart) at once; every stream must
    carry all of them, in order (their text joined equals the upstream's), then [DONE]."""
    expected = "echo: " + LONG_TEXT
    before, started = cpu(procs), time.perf_counter()
    results = uvloop.run(_many(target, count))
    wall = time.perf_counter() - started
    spent = cpu(procs) - before
    failed: list[str] = []
    lost = reordered = complete = events = 0
    durations: list[float] = []
    for result in results:
        if isinstance(result, BaseException):
            failed.append(type(result).__name__)
            lost += LONG_CHUNKS
            continue
        if result.status != 200:
            failed.append(f"status {result.status}")
            lost += LONG_CHUNKS
            continue
        indexes, text, done = read_stream(result)
        events += len(indexes)
        lost += max(0, LONG_CHUNKS - len(indexes))
        if len(indexes) == LONG_CHUNKS and text != expected:
            reordered += 1
        if len(indexes) == LONG_CHUNKS and text == expected and done:
            complete += 1
        if result.times:
            durations.append(result.times[-1] - result.sent)
    return {
        "streams": count,
        "chunks_per_stream": LONG_CHUNKS,
        "complete_in_order": complete,
        "content_events_received": events,
        "content_events_lost": lost,
        "streams_reordered": reordered,
        "failed": failed[:5],
        "failed_count": len(failed),
        "wall_s": round(wall, 2),
        "stream_duration_p50_s": round(statistics.median(durations), 2) if durations else None,
        "stream_duration_max_s": round(max(durations), 2) if durations else None,
        "ideal_stream_duration_s": round(LONG_CHUNKS * BEHAVIOURS["gpt-long"].chunk_delay, 2),
        "cpu_s": round(spent, 2),
    }


def disconnect(target: Target, rec: LocalUpstream, reps: int, timeout: float) -> dict[str, Any]:
    """A stream the upstream stalls after 2 content events; once the client has them it closes
    its connection, and the recording upstream reports when its own connection closed (both
    time.monotonic(), one clock for every process). A path that does not close in `timeout`
    seconds is not tried again."""
    raw = target.chat({**LONG, "model": STALL_MODEL})
    delays: list[float] = []
    outcomes: list[str] = []
    for _ in range(reps):
        rec.clear()
        conn = Conn(target.host, target.port, timeout=10.0)
        try:
            got = conn.stream(raw, stop_after=1 + (STALL.stall_after or 0))
        except OSError as err:
            outcomes.append(f"no events: {type(err).__name__}")
            break
        finally:
            closed = time.monotonic()
            conn.close()
        if got.status != 200:
            outcomes.append(f"status {got.status}")
            continue
        record = None
        for _ in range(100):
            if rec.requests:
                record = rec.requests[-1]
                break
            time.sleep(0.01)
        if record is None:
            outcomes.append("the request never reached the upstream")
            continue
        at = rec.wait_closed(record, timeout)
        if at is None:
            outcomes.append(f"upstream connection still open after {timeout:g} s")
            break
        delays.append((at - closed) * 1000)
        outcomes.append("closed")
    with contextlib.suppress(Exception):
        rec.clear()
    return {
        "attempts": len(outcomes),
        "closed": len(delays),
        "close_delay_ms_median": ms(statistics.median(delays)) if delays else None,
        "close_delay_ms_max": ms(max(delays)) if delays else None,
        "outcomes": sorted(set(outcomes)),
        "timeout_s": timeout,
    }
