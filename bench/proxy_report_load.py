"""The proxy benchmark's report, second half (proxy_report.py): capacity, streams under load,
disconnects and what each process cost."""

from __future__ import annotations

from typing import Any

LABELS = {
    "direct": "direct (client -> upstream)",
    "gateway": "**gateway** (-> aiproxy-svc -> upstream)",
    "litellm": "LiteLLM proxy",
}


def _step_row(peer: str, s: dict[str, Any]) -> str:
    kinds = s["error_kinds"]
    detail = ", ".join(f"{k} {v}" for k, v in kinds.items() if v)
    return (
        f"| {peer} | {s['rate']:g} | {s['achieved_rps']} | {s['errors']}"
        + (f" ({detail})" if detail else "")
        + f" | {s['p50_ms']} | {s['p99_ms']} | {s['max_ms']} | {s['client_send_lag_p99_ms']} | "
        f"{s['connections']} | {s['cpu_ms_per_request']} | {s['cpu_cores_busy']} | "
        + ("yes" if s["sustained"] else "**no**")
        + " |"
    )


def capacity(r: dict[str, Any]) -> list[str]:
    load, s = r["open_loop"], r["settings"]
    out = [
        f"## P2/P3: open-loop constant rate ({s['step_seconds']:g} s per step; each peer's steps "
        "rise until one is not sustained)",
        "",
        "| peer | target req/s | achieved req/s | errors | p50 ms | p99 ms | max ms | client send "
        "lag p99 ms | connections | server CPU ms/req | server cores busy | sustained |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        _step_row("direct (P2 baseline)", r["p2_direct"]),
    ]
    for name in ("gateway", "litellm"):
        for step in load.get(name, {}).get("steps", []):
            out.append(_step_row(LABELS[name], step))
        if name == "gateway" and "p2_gateway" in r:
            out.append(_step_row(f"{LABELS[name]}, at the P2 rate", r["p2_gateway"]))
    best = {name: load[name]["highest_sustained_rps"] for name in load}
    line = f"Highest sustained rate: gateway **{best['gateway']:g} req/s**"
    if "litellm" in best:
        ratio = round(best["gateway"] / best["litellm"], 1) if best["litellm"] else None
        line += f", LiteLLM **{best['litellm']:g} req/s** (ratio **{ratio} x**)"
    out += [
        "",
        line + ". Requests are sent on a wall-clock schedule whatever the answers do (the client "
        "opens up to 256 connections, then queues); latency counts from each request's scheduled "
        "time, so a server falling behind shows as latency, not as a lower send rate. Each step "
        f"begins with an untimed lead-in of {r['p2_direct']['lead_in_s']:g} s at the same rate "
        "on the same connections, so it measures the steady state. Sustained = "
        "errors < 0.1 % and p99 < 100 ms; answers still missing 5 s after the last send count as "
        "errors (unanswered). Achieved = answers 200 / time from the first send to the last "
        "answer. Client send lag = how late the client sent (its own share of the latency). "
        "Server cores busy = the peer's CPU seconds / the step's length (2 cores here, shared "
        "with the upstream and the client).",
    ]
    return out


def closed_loop(r: dict[str, Any]) -> list[str]:
    runs = r["wrk_c32"]
    first = next(iter(runs.values()))
    if "missing" in first:
        return ["## Closed loop, c=32 (wrk)", "", f"Skipped: {first['missing']}."]
    out = [
        f"## Closed-loop ceiling, c=32 (wrk -t1 -c32, {first['seconds']:g} s, POST script)",
        "",
        "| peer | req/s | p50 ms | p99 ms | non-2xx | socket errors | server CPU ms/req |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, w in runs.items():
        out.append(
            f"| {LABELS[name]} | **{w['rps']}** | {w['p50_ms']} | {w['p99_ms']} | {w['non_2xx']} "
            f"| {w['socket_errors']} | {w['cpu_ms_per_request']} |"
        )
    return out


def streams(r: dict[str, Any]) -> list[str]:
    conc, disc = r["p4_concurrent"], r["p4_disconnect"]
    some = next(iter(conc.values()))
    out = [
        f"## P4: {some['streams']} concurrent streams x {some['chunks_per_stream']} content "
        "events (10 ms apart), all started at once",
        "",
        "| peer | complete, in order, [DONE] | events received | lost | reordered | failed | "
        "wall s | stream duration p50 / max s (ideal) | server CPU s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, c in conc.items():
        failed = f"{c['failed_count']}" + (f" ({', '.join(c['failed'])})" if c["failed"] else "")
        out.append(
            f"| {LABELS[name]} | **{c['complete_in_order']}/{c['streams']}** | "
            f"{c['content_events_received']} | {c['content_events_lost']} | "
            f"{c['streams_reordered']} | {failed} | {c['wall_s']} | "
            f"{c['stream_duration_p50_s']} / {c['stream_duration_max_s']} "
            f"({c['ideal_stream_duration_s']}) | {c['cpu_s']} |"
        )
    out += [
        "",
        "Each stream's content is numbered words; a stream counts as complete when it carried "
        "every content event, their text joined equals the upstream's reply (so nothing was "
        "lost, duplicated or reordered) and it ended with [DONE].",
        "",
        "## P4: client disconnect -> upstream connection closed",
        "",
        "| peer | closed / attempts | delay median / max ms | outcomes |",
        "|---|---|---|---|",
    ]
    for name, d in disc.items():
        out.append(
            f"| {LABELS[name]} | {d['closed']}/{d['attempts']} | **{d['close_delay_ms_median']}** "
            f"/ {d['close_delay_ms_max']} | {'; '.join(d['outcomes'])} |"
        )
    timeout = next(iter(disc.values()))["timeout_s"]
    out += [
        "",
        "A second upstream (record=True, in the benchmark process) answers a stream with the role "
        "event and 2 content events, then writes nothing more and holds the connection. The "
        "client reads those 3 events and closes its socket; the delay is from that moment to the "
        "moment the upstream saw its own connection drop (both time.monotonic(), one clock for "
        f"all processes). A peer that does not close within {timeout:g} s is not tried again.",
    ]
    return out


def processes(r: dict[str, Any]) -> list[str]:
    out = [
        "## Processes",
        "",
        "| process | CPU s over the whole measured run | RSS idle / at the end MB |",
        "|---|---|---|",
    ]
    for name, seconds in r["cpu_s_whole_run"].items():
        rss = r["rss_mb"][name]
        out.append(f"| {name} | {seconds} | {rss['idle']} / {rss['end']} |")
    out += [
        "",
        "CPU from /proc/<pid>/stat (user + system, clock ticks); RSS = VmRSS. Idle = after set-up, "
        "before the first timed request. The other services are off the hot path (warm caches): "
        "their CPU over the run shows it. For P9 (idle RSS; no soak in this run): gateway "
        f"{r['rss_mb']['gateway process']['idle']} MB against <= 80 MB, aiproxy-svc "
        f"{r['rss_mb']['aiproxy']['idle']} MB against <= 70 MB.",
    ]
    return out
