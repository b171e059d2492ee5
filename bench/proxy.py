"""AI proxy benchmark (issue #6, PERFORMANCE.md P1-P4), side by side in one run against the same
local OpenAI-compatible upstream (bodhi_devstack.upstream, record=False, in a process of its own):

- direct: the client talks to the upstream itself (the floor);
- gateway: the whole stack (gateway -> aiproxy-svc over gRPC -> upstream), an API token, the API
  model and its key from warm caches;
- litellm: LiteLLM's proxy (litellm[proxy], pinned, installed by this script into its own venv
  under .data/bench/litellm), no database, 1 worker, a master key, the same upstream.

1. P1 added latency at c=1: interleaved rounds, back to back and with a 5 ms gap.
2. P4 paced streams at c=1: time to first event and the gaps between events, coalescing.
3. P2/P3 open-loop constant-rate steps; a closed-loop c=32 ceiling with wrk.
4. P4 under load: 200 concurrent streams x 100 events, none lost or reordered; how soon a client
   disconnect closes the upstream connection (a second, recording upstream in this process).

    uv run python bench/proxy.py [--quick] [--no-litellm]

Writes bench/results/proxy.md and .json (--quick: proxy-quick.md and .json). Parts: proxy_http
(clients), proxy_stack (processes), proxy_latency (1, 2), proxy_load (3), proxy_stream (4),
proxy_report.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchkit import cpu_model, write_results
from identity_stack import launch, versions
from proxy_http import Conn, Target
from proxy_latency import CHAT, PACED_TEXT, Peers, chat_rounds, paced_rounds, warm_up
from proxy_load import step, steps, wrk
from proxy_report import report
from proxy_stack import (
    LITELLM_KEY,
    LITELLM_VERSION,
    UPSTREAM_KEY,
    LiteLLM,
    cpu,
    install_litellm,
    prepare,
    recorder,
    rss_mb,
    upstream,
    upstream_process,
)  # fmt: skip
from proxy_stream import concurrent, disconnect

from bodhi_devstack.infra import SessionServers
from bodhi_devstack.stack import HOST, Stack

FULL = {
    "warm_up": 500, "rounds": 8, "per_round": 300, "low_rounds": 2, "low_per_round": 150,
    "stream_rounds": 4, "stream_per_round": 15, "step_seconds": 8.0,
    "gateway_rates": [250, 400, 500, 600, 750, 1000, 1400, 1700, 2000, 2500],
    "litellm_rates": [10, 20, 30, 40, 50, 60, 80, 100], "p2_rate": 1000, "wrk_seconds": 8.0,
    "streams": 200, "disconnects": 5, "disconnect_timeout": 5.0,
}  # fmt: skip
QUICK = FULL | {
    "warm_up": 100, "rounds": 3, "per_round": 100, "low_rounds": 1, "low_per_round": 50,
    "stream_rounds": 2, "stream_per_round": 5, "step_seconds": 3.0,
    "gateway_rates": [250, 500, 1000], "litellm_rates": [10, 20, 40], "wrk_seconds": 3.0,
    "disconnects": 3, "disconnect_timeout": 3.0,
}  # fmt: skip


def target(name: str, url: str, key: str) -> Target:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return Target(name, parts.hostname, parts.port, parts.path.rstrip("/") or "/v1", key)


def check(peer: Target) -> str | None:
    """One chat through a peer: None when it answers 200, else what it answered."""
    conn = Conn(peer.host, peer.port)
    try:
        status, _, body = conn.request(peer.chat(CHAT))
    except OSError as err:
        return f"{type(err).__name__}: {err}"
    finally:
        conn.close()
    return None if status == 200 else f"{status} {body[:300]!r}"


def processes(stack: Stack, litellm: LiteLLM, upstream_pid: int) -> dict[str, list[int]]:
    return {
        "direct": [],
        "gateway": [stack.children["gateway"].pid, stack.children["aiproxy"].pid],
        "litellm": litellm.pids,
        "upstream": [upstream_pid],
        "gateway process": [stack.children["gateway"].pid],
        "aiproxy": [stack.children["aiproxy"].pid],
        "other services (auth, secret, model)": [
            stack.children[n].pid for n in ("auth", "secret", "model")
        ],
    }


def run(s: dict[str, Any], peers: dict[str, Target], procs: dict[str, list[int]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    paths = Peers(peers, {name: procs[name] for name in peers})
    try:
        warm_up(paths, s["warm_up"])
        out["p1_back_to_back"] = chat_rounds(paths, s["rounds"], s["per_round"], 0.0)
        out["p1_low_load_5ms_gap"] = chat_rounds(paths, s["low_rounds"], s["low_per_round"], 0.005)
        out["p4_paced"] = paced_rounds(
            paths, s["stream_rounds"], s["stream_per_round"], "echo: " + PACED_TEXT
        )
    finally:
        paths.close()
    seconds = s["step_seconds"]
    out["p2_direct"] = step(peers["direct"], s["p2_rate"], seconds, procs["upstream"])
    out["open_loop"] = {"gateway": steps(peers["gateway"], s["gateway_rates"], seconds,
                                         procs["gateway"])}  # fmt: skip
    reached = {step["rate"] for step in out["open_loop"]["gateway"]["steps"]}
    if s["p2_rate"] not in reached:  # P2 asks for this rate whatever the steps below it did
        out["p2_gateway"] = step(peers["gateway"], s["p2_rate"], seconds, procs["gateway"])
    if "litellm" in peers:
        out["open_loop"]["litellm"] = steps(
            peers["litellm"], s["litellm_rates"], seconds, procs["litellm"]
        )
    out["wrk_c32"] = {
        name: wrk(peer, s["wrk_seconds"], procs[name]) for name, peer in peers.items()
    }
    out["p4_concurrent"] = {
        name: concurrent(peers[name], s["streams"], procs[name]) for name in ("direct", "gateway")
    }
    return out


def measure(s: dict[str, Any], use_litellm: bool) -> dict[str, Any]:
    litellm = LiteLLM()
    with (
        tempfile.TemporaryDirectory(prefix="bodhi-bench-proxy-") as tmp,
        upstream(__file__) as (upstream_url, upstream_pid),
        recorder() as rec,
        SessionServers() as servers,
    ):
        litellm.missing = install_litellm() if use_litellm else "not run (--no-litellm)"
        if litellm.missing is None:
            litellm.start(Path(tmp), upstream_url, rec.url)
        started = time.monotonic()
        try:
            with launch(servers, Path(tmp)) as stack:
                startup_s = time.monotonic() - started
                token = prepare(stack, upstream_url, rec.url)
                if litellm.missing is None:
                    litellm.ready()
                peers = {
                    "direct": target("direct", upstream_url, UPSTREAM_KEY),
                    "gateway": target("gateway", f"{stack.gateway_url}/v1", token),
                }
                if litellm.missing is None:
                    peers["litellm"] = target("litellm", f"http://{HOST}:{litellm.port}/v1",
                                              LITELLM_KEY)  # fmt: skip
                    litellm.missing = check(peers["litellm"])
                    if litellm.missing is not None:
                        del peers["litellm"]
                        litellm.stop()
                if (problem := check(peers["gateway"])) is not None:
                    raise RuntimeError(f"a chat through the gateway failed: {problem}")
                procs = processes(stack, litellm, upstream_pid)
                watched = {k: v for k, v in procs.items() if k not in ("direct", "gateway")}
                if litellm.missing is not None:
                    del watched["litellm"]
                rss_idle = {name: rss_mb(pids) for name, pids in watched.items()}
                cpu_before = {name: cpu(pids) for name, pids in watched.items()}
                result = run(s, peers, procs)
                result["p4_disconnect"] = {
                    name: disconnect(
                        target("direct", rec.url, UPSTREAM_KEY) if name == "direct" else peer,
                        rec,
                        s["disconnects"],
                        s["disconnect_timeout"],
                    )
                    for name, peer in peers.items()
                }
                result["cpu_s_whole_run"] = {
                    name: round(cpu(pids) - cpu_before[name], 1) for name, pids in watched.items()
                }
                result["rss_mb"] = {
                    name: {"idle": rss_idle[name], "end": rss_mb(pids)}
                    for name, pids in watched.items()
                }
                found = versions(stack)
        finally:
            litellm.stop()
    return result | {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "kernel": platform.release(),
            "workers": "1 uvicorn worker (gateway), 1 process per service, LiteLLM --num_workers 1",
        },
        "versions": found | extra_versions(litellm),
        "settings": s,
        "startup_s": {"stack": round(startup_s, 1), "litellm": litellm.startup_s},
        "litellm_missing": litellm.missing,
    }


def extra_versions(litellm: LiteLLM) -> dict[str, str]:
    found: dict[str, str] = {}
    for package in ("aiohttp", "granian"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    found["litellm"] = LITELLM_VERSION if litellm.missing is None else "missing"
    with contextlib.suppress(OSError):
        wrk_out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
        found["wrk"] = wrk_out.stdout.split(" [")[0].removeprefix("wrk ").strip()
    return found


def main() -> None:
    if sys.argv[1:] == ["--upstream"]:
        upstream_process()
        return
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument(
        "--quick", action="store_true", help="a ~1-minute subset; writes proxy-quick.*"
    )
    cli.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM peer")
    args = cli.parse_args()
    settings = QUICK if args.quick else FULL
    started = time.monotonic()
    result = measure(settings, not args.no_litellm)
    result["total_run_s"] = round(time.monotonic() - started, 1)
    text = report(result)
    write_results("proxy-quick" if args.quick else "proxy", text, result)


if __name__ == "__main__":
    main()
