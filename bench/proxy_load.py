"""Capacity figures of the proxy benchmark (proxy.py): P2/P3 open-loop constant-rate steps (sent
on a wall-clock schedule, latency counted from each request's scheduled time, so a server that
falls behind is not hidden by a client that waits), and a closed-loop ceiling at c=32 with wrk."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import uvloop
from benchkit import ms, percentile
from proxy_async import Pool
from proxy_http import Target
from proxy_latency import CHAT
from proxy_stack import cpu

CAP = 256  # connections per step; beyond that requests queue in the client (latency counts)
GRACE = 5.0  # seconds after the last scheduled send for the answers still due
MAX_ERRORS = 0.001  # P3: error rate below 0.1 %
MAX_P99_MS = 100.0  # P3: p99 below 100 ms


async def _step(
    target: Target, raw: bytes, rate: float, seconds: float, lead_in: float
) -> dict[str, Any]:
    """`lead_in` seconds at the same rate on the same connections first, not counted (the step
    measures the steady state), then `seconds` timed."""
    pool = Pool(target, CAP)
    await pool.fill(16)
    skip = round(rate * lead_in)
    n = max(1, round(rate * seconds))
    latencies: list[float] = []
    lags: list[float] = []
    failures = {"status": 0, "connection": 0}
    last_done = 0.0

    async def fire(due: float, timed: bool) -> None:
        nonlocal last_done
        if timed:
            lags.append(time.perf_counter() - due)
        try:
            status = await pool.call(raw)
        except Exception:  # a refused or dropped connection: an error of this step
            failures["connection"] += timed
            return
        now = time.perf_counter()
        if not timed:
            return
        if status == 200:
            latencies.append(now - due)
            last_done = now
        else:
            failures["status"] += 1

    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    zero = time.perf_counter() + 0.05
    start = zero + skip / rate
    i = 0
    while i < skip + n:
        now = time.perf_counter()
        while i < skip + n and zero + i / rate <= now:
            task = loop.create_task(fire(zero + i / rate, i >= skip))
            if i >= skip:
                tasks.append(task)
            i += 1
        if i < skip + n:
            await asyncio.sleep(max(0.0, zero + i / rate - time.perf_counter()))
    sent_by = time.perf_counter()
    wait = max(0.001, zero + (skip + n - 1) / rate + GRACE - time.perf_counter())
    _, pending = await asyncio.wait(tasks, timeout=wait)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    connections = pool.size
    pool.close()
    errors = failures["status"] + failures["connection"] + len(pending)
    p99 = percentile(latencies, 0.99) * 1000 if latencies else None
    ok = errors / n < MAX_ERRORS and p99 is not None and p99 < MAX_P99_MS
    return {
        "rate": rate,
        "sent": n,
        "answered_200": len(latencies),
        "achieved_rps": round(len(latencies) / max(last_done - start, 1e-9), 1),
        "send_window_s": round(sent_by - start, 2),
        "errors": errors,
        "error_kinds": failures | {"unanswered": len(pending)},
        "p50_ms": ms(percentile(latencies, 0.5) * 1000) if latencies else None,
        "p99_ms": ms(p99) if p99 is not None else None,
        "max_ms": ms(max(latencies) * 1000) if latencies else None,
        "client_send_lag_p99_ms": ms(percentile(lags, 0.99) * 1000),
        "connections": connections,
        "sustained": ok,
    }


def step(target: Target, rate: float, seconds: float, procs: list[int]) -> dict[str, Any]:
    """One constant-rate step (after a 1 s lead-in); the CPU its server processes spent per
    request over the whole step."""
    lead_in = min(1.0, seconds / 4)
    before = cpu(procs)
    result = uvloop.run(_step(target, target.chat(CHAT), rate, seconds, lead_in))
    spent = cpu(procs) - before
    requests = round(rate * lead_in) + result["answered_200"]
    result["cpu_ms_per_request"] = ms(spent * 1000 / max(requests, 1))
    result["cpu_cores_busy"] = round(spent / max(result["send_window_s"] + lead_in, 1e-9), 2)
    result["lead_in_s"] = lead_in
    return result


def steps(target: Target, rates: list[float], seconds: float, procs: list[int]) -> dict[str, Any]:
    """Rising steps until one is not sustained (error >= 0.1 % or p99 >= 100 ms)."""
    done: list[dict[str, Any]] = []
    for rate in rates:
        done.append(step(target, rate, seconds, procs))
        time.sleep(1.0)  # let a backlog drain before the next step
        if not done[-1]["sustained"]:
            break
    best = max((s["rate"] for s in done if s["sustained"]), default=0.0)
    return {"steps": done, "highest_sustained_rps": best, "step_seconds": seconds}


# --- wrk: closed loop at c=32 -------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency(text: str, label: str) -> float | None:
    found = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    return None if found is None else ms(float(found.group(1)) * _UNITS[found.group(2)])


def wrk(target: Target, seconds: float, procs: list[int], conns: int = 32) -> dict[str, Any]:
    """wrk -t1 -c32 with a Lua POST script; requests/s, latency, non-2xx, CPU per request."""
    binary = shutil.which("wrk")
    if binary is None:
        return {"missing": "wrk is not installed (apt package wrk)"}
    body = msgspec.json.encode(CHAT).decode()
    script = (
        f'wrk.method = "POST"\nwrk.body = {msgspec.json.encode(body).decode()}\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {target.key}"\n'
    )
    with tempfile.TemporaryDirectory(prefix="bodhi-bench-wrk-") as tmp:
        lua = Path(tmp) / "post.lua"
        lua.write_text(script)
        url = f"http://{target.host}:{target.port}{target.prefix}/chat/completions"
        argv = [binary, "-t1", f"-c{conns}", f"-d{seconds:g}s", "--latency", "-s", str(lua), url]
        before = cpu(procs)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        spent = cpu(procs) - before
    out = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    requests = int(total.group(1)) if total else 0
    return {
        "connections": conns,
        "seconds": seconds,
        "requests": requests,
        "rps": float(rps.group(1)) if rps else None,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sock.group(1).strip() if sock else "none",
        "cpu_ms_per_request": ms(spent * 1000 / max(requests, 1)),
    }
