"""The proxy benchmark's report (proxy.py): bench/results/proxy.md."""

from __future__ import annotations

from typing import Any

from proxy_report_load import LABELS, capacity, closed_loop, processes, streams


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def _le(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def targets(r: dict[str, Any]) -> list[str]:
    b2b, paced, load = r["p1_back_to_back"], r["p4_paced"], r["open_loop"]
    g_add = b2b["gateway_added"]
    ratio = b2b.get("ratio_gateway_to_litellm_added")
    g_steps = {s["rate"]: s for s in load["gateway"]["steps"]}
    p2 = g_steps.get(r["settings"]["p2_rate"], r.get("p2_gateway"))
    p2_added = None
    if p2 is not None and p2["p99_ms"] is not None and r["p2_direct"]["p99_ms"] is not None:
        p2_added = round(p2["p99_ms"] - r["p2_direct"]["p99_ms"], 2)
    g_best = load["gateway"]["highest_sustained_rps"]
    l_best = load.get("litellm", {}).get("highest_sustained_rps")
    p3_ratio = round(g_best / l_best, 1) if l_best else None
    p_add = paced["gateway_added"]
    conc = r["p4_concurrent"]["gateway"]
    disc = r["p4_disconnect"]["gateway"]
    rows = [
        ("P1", "added p50 <= 1.5 ms (c=1, back to back)", f"{g_add['p50_ms']} ms",
         _le(g_add["p50_ms"], 1.5)),
        ("P1", "added p99 <= 3 ms", f"{g_add['p99_ms']} ms", _le(g_add["p99_ms"], 3.0)),
        ("P1", "added <= 0.15 x LiteLLM's (p50 / p99)",
         f"{ratio['p50_ms']} / {ratio['p99_ms']}" if ratio else "LiteLLM missing",
         None if not ratio else max(ratio["p50_ms"] or 9, ratio["p99_ms"] or 9) <= 0.15),
        ("P2", f"at {r['settings']['p2_rate']} req/s: 0 errors, added p99 <= 25 ms "
         f"({r['settings']['step_seconds']:g} s step, not 60 s)",
         "not reached" if p2 is None else f"{p2['errors']} errors, added p99 {p2_added} ms",
         None if p2 is None else p2["errors"] == 0 and _le(p2_added, 25.0) is True),
        ("P3", "highest sustained rate >= 1,400 req/s", f"{g_best:g} req/s", g_best >= 1400),
        ("P3", ">= 12 x LiteLLM's", f"{g_best:g} / {l_best:g} = {p3_ratio} x"
         if l_best else "LiteLLM missing or sustained no step",
         None if p3_ratio is None else p3_ratio >= 12),
        ("P4", "added TTFB p50 <= 2.5 ms", f"{p_add['ttfb']['p50_ms']} ms",
         _le(p_add["ttfb"]["p50_ms"], 2.5)),
        ("P4", "added inter-chunk p99 <= 0.5 ms", f"{p_add['gap']['p99_ms']} ms",
         _le(p_add["gap"]["p99_ms"], 0.5)),
        ("P4", "no coalescing", f"{paced['gateway']['coalesced']} of "
         f"{paced['gateway']['content_events']} events coalesced",
         paced["gateway"]["coalesced"] == 0 and paced["gateway"]["failed"] == 0),
        ("P4", f"{conc['streams']} concurrent streams x {conc['chunks_per_stream']} chunks, 0 lost "
         "or reordered", f"{conc['complete_in_order']} complete in order, "
         f"{conc['content_events_lost']} lost, {conc['streams_reordered']} reordered",
         conc["content_events_lost"] == 0 and conc["streams_reordered"] == 0
         and conc["complete_in_order"] == conc["streams"]),
        ("P4", "client disconnect closes the upstream connection within 1 s",
         f"{disc['closed']}/{disc['attempts']} closed, max {disc['close_delay_ms_max']} ms",
         disc["closed"] == disc["attempts"] and _le(disc["close_delay_ms_max"], 1000.0) is True),
    ]  # fmt: skip
    out = ["| # | target | this run | |", "|---|---|---|---|"]
    out += [f"| {n} | {what} | {figure} | {_verdict(ok)} |" for n, what, figure, ok in rows]
    return out


def p1(r: dict[str, Any]) -> list[str]:
    b2b, low = r["p1_back_to_back"], r["p1_low_load_5ms_gap"]
    s = r["settings"]
    out = [
        f"## P1: added latency, c=1 ({s['rounds']} interleaved rounds x {s['per_round']} per "
        f"peer after {s['warm_up']} warm-up; low load: {s['low_rounds']} x {s['low_per_round']} "
        "with a 5 ms gap before each request)",
        "",
        "| peer | p50 ms | p99 ms | added p50 / p99 ms | low load p50 / p99 ms | low load added "
        "p50 / p99 ms | server CPU ms/req | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in b2b:
        if name not in LABELS:
            continue
        row, slow = b2b[name], low[name]
        add, low_add = b2b.get(f"{name}_added"), low.get(f"{name}_added")
        out.append(
            f"| {LABELS[name]} | {row['p50_ms']} | {row['p99_ms']} | "
            + (f"**{add['p50_ms']} / {add['p99_ms']}**" if add else "-")
            + f" | {slow['p50_ms']} / {slow['p99_ms']} | "
            + (f"{low_add['p50_ms']} / {low_add['p99_ms']}" if low_add else "-")
            + f" | {row['cpu_ms_per_request']} | {row['errors'] + slow['errors']} |"
        )
    ratio = b2b.get("ratio_gateway_to_litellm_added")
    low_ratio = low.get("ratio_gateway_to_litellm_added")
    if ratio and low_ratio:
        out.append(
            f"| **gateway-added / LiteLLM-added** | | | **{ratio['p50_ms']} / {ratio['p99_ms']}** "
            f"| | {low_ratio['p50_ms']} / {low_ratio['p99_ms']} | | |"
        )
    own = b2b["gateway"].get("own_overhead_header_p50_ms")
    out += [
        "",
        "p50 = median of the round medians; p99 pooled over all rounds; added p50 = median of the "
        "per-round differences of medians, added p99 = difference of the pooled p99s. Server CPU = "
        "CPU seconds of the peer's processes (gateway + aiproxy-svc; LiteLLM) over the timed "
        f"requests, divided by their number. The gateway's own `x-gateway-overhead-ms` header, "
        f"median: {own} ms (its time minus the upstream call's, as seen inside the gateway).",
    ]
    return out


def p4_paced(r: dict[str, Any]) -> list[str]:
    p = r["p4_paced"]
    s = r["settings"]
    out = [
        f"## P4: paced streams, c=1 ({s['stream_rounds']} interleaved rounds x "
        f"{s['stream_per_round']} streams per peer; {p['chunks_sent_per_stream']} content events "
        "5 ms apart)",
        "",
        "| peer | TTFB p50 / p99 ms | added TTFB p50 / p99 ms | gap p50 / p99 ms | added gap "
        "p50 / p99 ms | content events received / sent | coalesced | wrong text | failed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in LABELS:
        if name not in p:
            continue
        row, add = p[name], p.get(f"{name}_added")
        sent = row["streams"] * p["chunks_sent_per_stream"]
        out.append(
            f"| {LABELS[name]} | {row['ttfb']['p50_ms']} / {row['ttfb']['p99_ms']} | "
            + (f"**{add['ttfb']['p50_ms']}** / {add['ttfb']['p99_ms']}" if add else "-")
            + f" | {row['gap']['p50_ms']} / {row['gap']['p99_ms']} | "
            + (f"{add['gap']['p50_ms']} / **{add['gap']['p99_ms']}**" if add else "-")
            + f" | {row['content_events']} / {sent} | {row['coalesced']} | {row['wrong_text']} | "
            f"{row['failed']} |"
        )
    out += [
        "",
        "TTFB = request sent until the first server-sent event arrived. A gap = the time between "
        "a content event and the event before it, as the client read them (the upstream sleeps "
        "5 ms before each content event). Coalesced = content events that arrived in the same "
        "socket read as the event before them (a proxy that buffers shows them). Wrong text = "
        "streams whose joined content differs from the upstream's reply.",
    ]
    return out


def header(r: dict[str, Any]) -> list[str]:
    m, v = r["machine"], r["versions"]
    missing = r["litellm_missing"]
    lines = [
        "# AI proxy benchmark (PERFORMANCE.md P1-P4): gateway vs LiteLLM vs direct",
        "",
        f"{m['cpu']}, {m['cores']} cores, Linux {m['kernel']}; {m['workers']}. Python "
        f"{v['python']}, litestar {v.get('litestar')}, uvicorn {v.get('uvicorn')}, grpcio "
        f"{v.get('grpcio')}, aiohttp {v.get('aiohttp')}, msgspec {v.get('msgspec')}; LiteLLM "
        f"{v.get('litellm')}; wrk {v.get('wrk')}. Stack ready in {r['startup_s']['stack']} s"
        + (f", LiteLLM in {r['startup_s']['litellm']} s" if not missing else "")
        + f"; whole run {r.get('total_run_s')} s.",
        "",
    ]
    if missing:
        lines += [f"**LiteLLM was not measured: {missing}.** The other peers ran as usual.", ""]
    lines += [
        "How (everything in one run, interleaved where it matters; on 2 noisy cores only "
        "differences and ratios within a run count):",
        "",
        "- **Upstream**: `bodhi_devstack.upstream.LocalUpstream(record=False)` in a process of its "
        "own, shared by every peer (in the client's process its server thread would compete for "
        "the client's GIL and blur the c=1 figures; on its own it gave steady direct figures, and "
        "its CPU is listed below); it answers the small chat with ~270 bytes of JSON and paces "
        "streams as each row says.",
        "- **Client**: this script's process, the same minimal HTTP/1.1 code for every peer on "
        "keep-alive connections: blocking sockets at c=1, an asyncio (uvloop) protocol for the "
        "open-loop steps, wrk for the closed loop. Request: `POST /v1/chat/completions`, model "
        "`gpt-bench`, one short user message, `max_tokens` 16, `Authorization: Bearer ...`.",
        "- **gateway**: the whole stack as `make run` starts it (gateway with 1 uvicorn worker, "
        "every service, PostgreSQL, Redis, the dev OIDC provider); an admin registers the "
        "upstream with `POST /bodhi/v1/api-models` and makes an API token (scope_token_user); "
        "path: API token -> gateway -> aiproxy-svc (gRPC) -> upstream, token, API model and key "
        "from warm caches after the warm-up.",
        f"- **LiteLLM**: `litellm[proxy]=={v.get('litellm')}` in an isolated venv "
        "(`.data/bench/litellm`, installed by this script), a config routing each model name to "
        "`openai/<model>` at the same upstream, no database, `--num_workers 1`, logs to a file, "
        "`LITELLM_LOCAL_MODEL_COST_MAP=True` (no price-list fetch). No master key "
        "(`LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY=true`; the header is sent anyway): "
        "with a master key set this version spends about twice the CPU per request (a trial on "
        "this box: c=1 p50 ~33 ms against ~17 ms), so this is its faster setting. "
        "Newer 1.109-1.110 releases did not resolve from the package index here.",
        "- **direct**: the client sends the same request straight to the upstream: the floor.",
        "",
        "## Targets (PERFORMANCE.md)",
        "",
    ]
    return lines


def report(result: dict[str, Any]) -> str:
    lines = header(result) + targets(result)
    for section in (p1, p4_paced, capacity, closed_loop, streams, processes):
        lines += ["", *section(result)]
    return "\n".join(lines) + "\n"
