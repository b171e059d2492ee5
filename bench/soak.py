"""Load + faults soak (issue #9; `make soak`, not part of `make test`).

A whole stack with a FaultProxy on every link (the gateway to each service and to Redis, each
service to PostgreSQL), mixed traffic for --seconds (10 minutes by default): non-streamed and
streamed chats and model lists with an API token, session reads, API-token creation (the
acknowledged writes), logins through the OIDC provider, and model pulls from a throttled local
Hub. Every --period seconds one fault from FAULTS is injected for --fault-seconds, then healed.

Afterwards: every acknowledged write is looked up (lost must be 0), every accepted pull must end
completed with a blob whose SHA-256 is its name, and the report counts outcomes by class per kind,
separating errors inside a fault window (+ RECOVERY seconds after it) from errors in steady state
(must be 0), with p99 of the answers, the longest time to an error (no hangs), time to /ready
after each heal, and RSS growth of the processes that were never restarted.

    uv run python bench/soak.py [--seconds 600] [--period 30] [--fault-seconds 5]

Writes bench/results/soak.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
from benchkit import RESULTS, cpu_model, ms, percentile, write_results
from identity_stack import launch
from proxy_stack import prepare, recorder, rss_mb, tree, upstream, upstream_process
from soak_report import report
from soak_traffic import CLIENT_TIMEOUT, Recorder, Traffic, attempt, schedule

from bodhi_devstack.hub import LocalHub
from bodhi_devstack.infra import SessionServers
from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient

RATES = {"chat": 40.0, "stream": 15.0, "models": 20.0, "user": 10.0, "write": 2.0}
LOGIN_EVERY, PULL_EVERY = 5.0, 20.0
PULL_SIZE, PULL_RATE = 24 * 2**20, 4 * 2**20  # 24 MiB at 4 MiB/s: ~6 s in flight each
RECOVERY = 10.0  # seconds after a heal still counted as the fault's
SAMPLE_EVERY = 5.0

Fault = tuple[str, Callable[[Stack], None], Callable[[Stack], None]]  # name, inject, heal


def _link(name: str, toxic: str) -> Fault:
    return (
        f"{name} link: {toxic}",
        lambda s: getattr(s.proxies[name], toxic)(),
        lambda s: s.proxies[name].heal(),
    )


def _signal(name: str, sig: signal.Signals, label: str) -> Fault:
    def heal(s: Stack) -> None:
        if sig == signal.SIGSTOP:
            s.children[name].send_signal(signal.SIGCONT)
        else:
            s.restart(name)

    return (f"{name}: {label}", lambda s: s.children[name].send_signal(sig), heal)


FAULTS: list[Fault] = [
    _link("redis", "blackhole"),
    _link("aiproxy", "blackhole"),
    _link("auth-db", "reset"),
    _signal("aiproxy", signal.SIGSTOP, "SIGSTOP, SIGCONT at heal"),
    _signal("model", signal.SIGKILL, "SIGKILL, restarted at heal"),
    _link("redis", "reset"),
    _link("auth", "reset"),
    _link("secret", "blackhole"),
    _link("model-db", "reset"),
    _signal("gateway", signal.SIGTERM, "SIGTERM, restarted at heal"),
    _link("aiproxy-db", "blackhole"),
    _signal("auth", signal.SIGKILL, "SIGKILL, restarted at heal"),
    _link("auth-db", "blackhole"),
]


async def inject_faults(
    stack: Stack, start: float, args: argparse.Namespace, log: list[dict[str, Any]]
) -> None:
    i, at = 0, args.warm_up
    while at + args.fault_seconds + RECOVERY < args.seconds:
        await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
        name, inject, heal = FAULTS[i % len(FAULTS)]
        began = time.perf_counter()
        await asyncio.to_thread(inject, stack)
        await asyncio.sleep(args.fault_seconds)
        healed = time.perf_counter()
        await asyncio.to_thread(heal, stack)
        ready = await asyncio.to_thread(_until_ready, stack, 60.0)
        log.append(
            {
                "fault": name,
                "from_s": round(began - start, 1),
                "healed_s": round(healed - start, 1),
                "ready_after_heal_s": None if ready is None else round(ready - healed, 2),
            }
        )
        i, at = i + 1, at + args.period


def _until_ready(stack: Stack, deadline: float) -> float | None:
    end = time.perf_counter() + deadline
    while time.perf_counter() < end:
        if stack.gateway_ready():
            return time.perf_counter()
        time.sleep(0.1)
    return None


async def logins(stack: Stack, rec: Recorder, until: float) -> None:
    def one() -> str:
        with BodhiClient(stack.gateway_url) as client:
            try:
                who = client.login_as("admin")
            except AssertionError as err:  # login_as asserts each step's status
                found = re.search(r'"code":\s*"([^"]+)"', str(err))  # the step's error code
                return f"login step refused: {found.group(1) if found else str(err)[:60]}"
            return "ok" if who.get("auth_status") == "logged_in" else "not logged in"

    while time.perf_counter() < until:
        await attempt(rec, "login (OIDC)", lambda: asyncio.to_thread(one))
        await asyncio.sleep(LOGIN_EVERY)


def sample(stack: Stack) -> dict[str, Any]:
    return {name: {"pid": c.pid, "mb": rss_mb(tree(c.pid))} for name, c in stack.children.items()}


async def drive(
    stack: Stack, hub: LocalHub, token: str, args: argparse.Namespace
) -> dict[str, Any]:
    start = time.perf_counter()
    until = start + args.seconds
    rec = Recorder(start)
    faults: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, timeout=CLIENT_TIMEOUT, limits=limits
    ) as http:
        with BodhiClient(stack.gateway_url) as admin:
            admin.login_as("admin")
            http.cookies.update(admin.http.cookies)
        traffic, tasks = Traffic(http, token, rec), set[asyncio.Task[None]]()
        files = [
            hub.add_file(f"soak/model-{i}", "model.gguf", size=PULL_SIZE, seed=i)
            for i in range(int(args.seconds / PULL_EVERY) + 1)
        ]
        for f in files:
            hub.fault(f.repo, f.filename, throttle=PULL_RATE)

        async def pulls() -> None:
            for i, f in enumerate(files):
                if time.perf_counter() >= until:
                    return
                await traffic.pull(i, f.repo, f.filename)
                await asyncio.sleep(PULL_EVERY)

        async def sampler() -> None:
            while time.perf_counter() < until:
                samples.append({"t_s": round(time.perf_counter() - start, 1), **sample(stack)})
                await asyncio.sleep(SAMPLE_EVERY)

        await asyncio.gather(
            *(schedule(RATES[k], until, getattr(traffic, k), tasks) for k in RATES),
            logins(stack, rec, until),
            pulls(),
            sampler(),
            inject_faults(stack, start, args, faults),
        )
        if tasks:
            await asyncio.wait(tasks, timeout=CLIENT_TIMEOUT + 5)
        samples.append({"t_s": round(time.perf_counter() - start, 1), **sample(stack)})
        await asyncio.to_thread(_until_ready, stack, 60.0)
        checks = await verify(http, stack, rec)
    return {
        "outcomes": rec.outcomes,
        "faults": faults,
        "samples": samples,
        "checks": checks,
        "unanswered_tasks": len(tasks),
    }


async def verify(http: httpx.AsyncClient, stack: Stack, rec: Recorder) -> dict[str, Any]:
    """Every acknowledged write present; every accepted pull completed and its blob intact."""
    names: set[str] = set()
    page = 1
    while True:
        r = await http.get("/bodhi/v1/tokens", params={"page": page, "page_size": 100})
        r.raise_for_status()
        data = r.json()["data"]
        names |= {t["name"] for t in data}
        if len(data) < 100:
            break
        page += 1
    states: dict[str, str] = {}
    deadline = time.perf_counter() + 180
    for download_id in rec.pulls:
        while True:
            r = await http.get(f"/bodhi/v1/modelfiles/pull/{download_id}")
            status = r.json().get("status", f"HTTP {r.status_code}") if r.is_success else "?"
            if status != "pending" or time.perf_counter() > deadline:
                states[download_id] = status
                break
            await asyncio.sleep(0.5)
    blobs = list((stack.plan.model_cache / "hub").glob("models--soak--*/blobs/*"))
    corrupt = [b.name for b in blobs if _sha256(b) != b.name]
    return {
        "acked_writes": len(rec.acked_writes),
        "acked_writes_lost": sorted(rec.acked_writes - names),
        "unanswered_writes": len(rec.unanswered_writes),
        "unanswered_writes_present": len(rec.unanswered_writes & names),
        "pulls_accepted": len(rec.pulls),
        "pull_states": {s: list(states.values()).count(s) for s in set(states.values())},
        "blobs_checked": len(blobs),
        "blobs_corrupt": corrupt,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _overlaps(outcome: tuple[float, float, str], start: float, end: float) -> bool:
    at, took, _ = outcome
    return at <= end and at + took >= start


def summarise(raw: dict[str, Any], faults: list[dict[str, Any]]) -> dict[str, Any]:
    windows = [
        (f["from_s"], f["healed_s"] + (f["ready_after_heal_s"] or 0) + RECOVERY) for f in faults
    ]
    kinds: dict[str, Any] = {}
    by_fault: dict[str, dict[str, int]] = {}
    for kind, outcomes in raw.items():
        ok = [t for _, t, c in outcomes if c == "ok"]
        errors = [(at, t, c) for at, t, c in outcomes if c != "ok"]
        # A request is the fault's when it was in flight at any moment of the window.
        in_fault = [e for e in errors if any(_overlaps(e, a, b) for a, b in windows)]
        for at, took, c in in_fault:
            name = next(
                f["fault"]
                for f, (a, b) in zip(faults, windows, strict=True)
                if _overlaps((at, took, c), a, b)
            )
            by_fault.setdefault(name, {}).setdefault(f"{kind}: {c}", 0)
            by_fault[name][f"{kind}: {c}"] += 1
        steady = [e for e in errors if e not in in_fault]
        classes: dict[str, int] = {}
        for _, _, c in errors:
            classes[c] = classes.get(c, 0) + 1
        kinds[kind] = {
            "sent": len(outcomes),
            "ok": len(ok),
            "errors_in_faults": len(in_fault),
            "errors_steady": len(steady),
            "steady": [(round(at, 1), c) for at, _, c in steady],
            "classes": classes,
            "p50_ms": ms(percentile(ok, 0.5) * 1000) if ok else None,
            "p99_ms": ms(percentile(ok, 0.99) * 1000) if ok else None,
            "slowest_error_s": round(max((t for _, t, _ in errors), default=0.0), 2),
        }
    return {"kinds": kinds, "by_fault": by_fault}


def growth(samples: list[dict[str, Any]], warm_up: float) -> dict[str, Any]:
    after = [s for s in samples if s["t_s"] >= warm_up] or samples[-1:]
    out: dict[str, Any] = {}
    for name, first in after[0].items():
        if name == "t_s":
            continue
        same = [s[name] for s in after if name in s and s[name]["pid"] == first["pid"]]
        same = [x for x in same if x["mb"] > 0] or same  # a killed process reads 0
        restarted = len(same) < len(after)
        out[name] = {
            "after_warm_up_mb": first["mb"],
            "end_mb": same[-1]["mb"],
            "peak_mb": max(x["mb"] for x in same),
            "restarted": restarted,
            "growth_pct": round((same[-1]["mb"] - first["mb"]) / first["mb"] * 100, 2)
            if first["mb"] and not restarted
            else None,
        }
    return out


def _data_dir() -> Path:
    """Under .data/ (git-ignored): each run's stack.log is copied to .data/soak/stack.log."""
    path = Path(__file__).resolve().parent.parent / ".data" / "soak"
    path.mkdir(parents=True, exist_ok=True)
    return path


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bodhi-soak-", dir=_data_dir()) as tmp,
        upstream(__file__) as (upstream_url, _),
        recorder() as rec,
        LocalHub() as hub,
        SessionServers() as servers,
        launch(servers, Path(tmp), fault_proxies=True, env={"HF_ENDPOINT": hub.url}) as stack,
    ):
        token = prepare(stack, upstream_url, rec.url)
        try:
            raw = asyncio.run(drive(stack, hub, token, args))
        finally:
            shutil.copyfile(Path(tmp) / "stack.log", _data_dir() / "stack.log")
    return {
        **summarise(raw["outcomes"], raw["faults"]),
        "faults": raw["faults"],
        "checks": raw["checks"],
        "growth": growth(raw["samples"], args.warm_up),
        "rss_samples": [
            {"t_s": x["t_s"], **{n: v["mb"] for n, v in x.items() if n != "t_s"}}
            for x in raw["samples"]
        ],
        "unanswered_tasks": raw["unanswered_tasks"],
    }


def main() -> None:
    if sys.argv[1:] == ["--upstream"]:
        upstream_process()
        return
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--seconds", type=float, default=600.0)
    cli.add_argument("--period", type=float, default=30.0, help="seconds between faults")
    cli.add_argument("--fault-seconds", type=float, default=5.0)
    cli.add_argument("--warm-up", type=float, default=30.0)
    cli.add_argument("--name", default="soak")
    cli.add_argument("--report-only", action="store_true", help="re-render <name>.md from .json")
    args = cli.parse_args()
    if args.report_only:
        saved = msgspec.json.decode((RESULTS / f"{args.name}.json").read_bytes())
        write_results(args.name, report(saved), saved)
        return
    started = time.monotonic()
    result = measure(args)
    result["machine"] = {"cpu": cpu_model(), "cores": os.cpu_count()}
    result["settings"] = vars(args) | {
        "rates_per_s": RATES,
        "login_every_s": LOGIN_EVERY,
        "pull_every_s": PULL_EVERY,
        "recovery_s": RECOVERY,
    }
    result["total_run_s"] = round(time.monotonic() - started, 1)
    write_results(args.name, report(result), result)


if __name__ == "__main__":
    main()
