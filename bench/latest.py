"""Assemble bench/results/latest.md and .json (`make bench`) from the per-benchmark JSON files:
the machine, the versions, and one table of PERFORMANCE.md's targets P1-P10, each with the
measured figure and met / missed; then, for each target missed, its cause from the profile and
what it would take (bench/missed.py).

    uv run python bench/latest.py [--quick]

--quick (`make bench-quick`) reads <name>-quick.json where the quick run wrote one (else the last
full figure, marked so) and writes latest-quick.md and .json.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import msgspec
from benchkit import RESULTS, cpu_model, write_results
from missed import WHY

NAMES = ("proxy", "grpc_hop", "identity", "secret_vault", "downloads", "memory", "startup")
Row = tuple[str, str, str, bool | None, str]  # id, what, target, met, figure


def load(name: str, quick: bool) -> tuple[dict[str, Any] | None, str]:
    """(figures, the file they came from) or (None, "")."""
    for candidate in (f"{name}-quick", name) if quick else (name,):
        path = RESULTS / f"{candidate}.json"
        if path.exists():
            return msgspec.json.decode(path.read_bytes()), candidate
    return None, ""


def dig(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def p1(d: dict[str, Any]) -> tuple[bool | None, str]:
    b = d["p1_back_to_back"]
    added, ratio = b["gateway_added"], b.get("ratio_gateway_to_litellm_added", {})
    r = ratio.get("p50_ms")
    met = added["p50_ms"] <= 1.5 and added["p99_ms"] <= 3 and (r is None or r <= 0.15)
    return met, (
        f"added p50 {added['p50_ms']} ms, p99 {added['p99_ms']} ms; "
        + (f"{r} x LiteLLM's added p50 (p99 {ratio.get('p99_ms')} x)" if r else "no LiteLLM")
    )


def p2(d: dict[str, Any]) -> tuple[bool | None, str]:
    rate = d["settings"]["p2_rate"]
    steps = dig(d, "open_loop", "gateway", "steps") or []
    found = d.get("p2_gateway") or next((s for s in steps if s["rate"] == rate), None)
    if found is None or found["p99_ms"] is None:
        return False, f"no answers at {rate} req/s"
    added = round(found["p99_ms"] - d["p2_direct"]["p99_ms"], 2)
    met = found["errors"] == 0 and added <= 25
    return met, f"at {rate} req/s: {found['errors']} errors, added p99 {added} ms"


def p3(d: dict[str, Any]) -> tuple[bool | None, str]:
    ours = dig(d, "open_loop", "gateway", "highest_sustained_rps") or 0
    theirs = dig(d, "open_loop", "litellm", "highest_sustained_rps")
    ratio = round(ours / theirs, 1) if theirs else None
    met = ours >= 1400 and (ratio is None or ratio >= 12)
    wrk = dig(d, "wrk_c32", "gateway", "rps")
    return met, (
        f"{ours:g} req/s sustained"
        + (f" = {ratio} x LiteLLM's {theirs:g}" if ratio else "")
        + (f"; wrk c=32 ceiling {wrk} req/s" if wrk else "")
    )


def p4(d: dict[str, Any]) -> tuple[bool | None, str]:
    paced = d["p4_paced"]
    ttfb, gap = paced["gateway_added"]["ttfb"]["p50_ms"], paced["gateway_added"]["gap"]["p99_ms"]
    conc = d["p4_concurrent"]["gateway"]
    disc = d["p4_disconnect"]["gateway"]
    lost, reordered = conc["content_events_lost"], conc["streams_reordered"]
    closed_ok = disc["closed"] == disc["attempts"] and (disc["close_delay_ms_max"] or 1e9) <= 1000
    met = (
        ttfb <= 2.5
        and gap <= 0.5
        and paced["gateway"]["coalesced"] == 0
        and lost == 0
        and reordered == 0
        and conc["failed_count"] == 0
        and closed_ok
    )
    return met, (
        f"added TTFB p50 {ttfb} ms, inter-chunk p99 {gap} ms, coalesced "
        f"{paced['gateway']['coalesced']}; {conc['streams']} streams: {lost} lost, {reordered} "
        f"reordered; disconnect closes upstream in <= {disc['close_delay_ms_max']} ms "
        f"({disc['closed']}/{disc['attempts']})"
    )


def p5(d: dict[str, Any]) -> tuple[bool | None, str]:
    p50, rate = d["c1"]["service"]["p50_ms"], d["c32"]["service"]["calls_per_s"]
    return p50 <= 0.6 and rate >= 4000, (
        f"p50 {p50} ms at c=1 (bare grpc.aio {d['c1']['bare']['p50_ms']}); {rate:g} calls/s at "
        f"c=32 (bare {d['c32']['bare']['calls_per_s']:g})"
    )


def p6(d: dict[str, Any]) -> tuple[bool | None, str]:
    hit_us = d["bearer_in_process"]["digest_plus_get_p99_us"]
    calls = d["bearer_in_process"]["auth_calls_on_warm_path"]
    iso = d["warm_path_isolation"]
    over_http = d["bearer_http"]["back_to_back"]["bearer_minus_anonymous"]["p50_ms"]
    met = hit_us <= 100 and calls == 0 and iso["warm_failed"] == 0
    return met, (
        f"warm hit p99 {hit_us} us in process ({over_http} ms over HTTP vs anonymous); "
        f"{calls} auth calls on the warm path; {iso['warm_ok']}/{iso['warm_requests']} warm "
        "requests answered with auth-svc and the provider paused (refreshes: see identity.md)"
    )


def p7(d: dict[str, Any]) -> tuple[bool | None, str]:
    get = d["latency"]["get_secret"]
    rr = d["rotate_rewrap"]
    crypto = d["crypto_per_call"]
    met = get["p99_ms"] <= 2 and rr["seconds"] <= 10 and rr["remaining"] == 0
    return met, (
        f"GetSecret p99 {get['p99_ms']} ms at {get['achieved_rate']:g}/s (bare hop p99 "
        f"{d['latency']['grpc_hop']['p99_ms']}); rotate + rewrap {rr['records']} in "
        f"{rr['seconds']} s; {crypto['ours_us']} us crypto per call (no stretching)"
    )


def p8(d: dict[str, Any]) -> tuple[bool | None, str]:
    t, th = d["throughput"], d["throttled"]
    ours, curl, hf = (
        t["fetch, 1 stream"]["mb_s"],
        t["curl -o"]["mb_s"],
        t["hf_hub_download"]["mb_s"],
    )
    curl_sha = t.get("curl -o, then openssl sha256", {}).get("mb_s")
    refetch = max(k["refetched_pct"] for k in d["killed"]) if d["killed"] else None
    one = th["fetch, 1 part"]["mb_s"]
    best = max(v["mb_s"] for k, v in th.items() if k != "fetch, 1 part")
    read_back = t["fetch, 1 stream"]["read_back"]
    met = (
        ours >= 0.9 * curl
        and ours >= hf
        and (refetch is None or refetch <= 1)
        and best >= 1.5 * one
        and read_back < 0.01
    )
    return met, (
        f"1 stream {ours / curl:.2f} x curl -o ({ours / curl_sha:.2f} x curl + openssl sha256), "
        f"{ours / hf:.2f} x hf_hub_download; resume re-fetches <= {refetch} %; parallel "
        f"{best / one:.1f} x single on a throttled hub; read back for sha256 {read_back:.4f} "
        f"of the file ({d['size_bytes'] >> 20} MiB)"
    )


def p9(d: dict[str, Any]) -> tuple[bool | None, str]:
    rss = d["idle_rss_mb"]
    limits = {"gateway": 80.0} | {n: 70.0 for n in ("auth", "secret", "model", "aiproxy")}
    over = [f"{n} {rss[n]}" for n, lim in limits.items() if n in rss and rss[n] > lim]
    idle = ", ".join(f"{n} {rss[n]}" for n in limits if n in rss)
    soak = d.get("soak")
    if soak is None:
        return (None if not over else False), f"idle MB: {idle}; soak not run"
    growth = {n: soak["growth"][n]["growth_pct"] for n in limits if n in soak["growth"]}
    worst = max(growth, key=lambda n: growth[n])
    errors = sum(soak["errors"].values()) + soak["unanswered"]
    met = not over and growth[worst] <= 5
    return met, (
        f"idle MB: {idle}; soak {soak['rate']:g}/s x {soak['seconds']:g} s: growth <= "
        f"{growth[worst]} % ({worst}), {errors} errors, chat p99 {soak['p99_ms']['chat']} ms"
    )


def p10(d: dict[str, Any]) -> tuple[bool | None, str]:
    median = d["median_ready_s"]
    runs = ", ".join(str(r["ready_s"]) for r in d["runs"])
    return median <= 10, f"median {median} s (runs {runs} s; first run {d['first_run']['ready_s']})"


TARGETS: list[tuple[str, str, str, str, Callable[[dict[str, Any]], tuple[bool | None, str]]]] = [
    ("P1", "added latency, c=1", "p50 <= 1.5 ms, p99 <= 3 ms, <= 0.15 x LiteLLM", "proxy", p1),
    ("P2", "open loop at 1,000 req/s", "0 errors, added p99 <= 25 ms", "proxy", p2),
    ("P3", "highest sustained rate", ">= 1,400 req/s and >= 12 x LiteLLM", "proxy", p3),
    ("P4", "streaming", "TTFB p50 <= 2.5 ms, gap p99 <= 0.5 ms, 0 lost, close <= 1 s",
     "proxy", p4),
    ("P5", "one gRPC hop", "p50 <= 0.6 ms at c=1, >= 4,000 calls/s at c=32", "grpc_hop", p5),
    ("P6", "bearer authentication", "warm hit <= 0.1 ms, 0 calls on the warm path", "identity",
     p6),
    ("P7", "secret vault", "GetSecret p99 <= 2 ms at 500/s; rewrap 10k <= 10 s",
     "secret_vault", p7),
    ("P8", "downloads", ">= 0.9 x curl, >= hf_hub; resume <= 1 %; parallel >= 1.5 x",
     "downloads", p8),
    ("P9", "memory", "gateway <= 80 MB, services <= 70 MB; soak growth <= 5 %", "memory", p9),
    ("P10", "start-up", "ready <= 10 s after the first run", "startup", p10),
]  # fmt: skip


def versions(found: dict[str, dict[str, Any] | None]) -> dict[str, str]:
    out: dict[str, str] = {"python": platform.python_version()}
    for data in found.values():
        if data is not None and isinstance(data.get("versions"), dict):
            out |= {k: str(v) for k, v in data["versions"].items()}
    for package in ("grpcio", "litestar", "uvicorn", "uvloop", "aiohttp", "msgspec"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out.setdefault(package, importlib.metadata.version(package))
    return out


def machine(data: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The machine the figures were measured on (each report records its own), not this one's."""
    cpus = sorted({str(dig(d, "machine", "cpu")) for d in data.values() if d and "machine" in d})
    here = {"cpu": cpu_model(), "cores": os.cpu_count(), "kernel": platform.release()}
    if not cpus or cpus == [here["cpu"]]:
        return here
    kernels = {dig(d, "machine", "kernel") for d in data.values() if d and "machine" in d}
    kernel = ", ".join(sorted(str(k) for k in kernels if k)) or "not recorded"
    return {"cpu": " / ".join(cpus), "cores": here["cores"], "kernel": kernel}


def assemble(quick: bool, total_s: float | None) -> tuple[str, dict[str, Any]]:
    loaded = {name: load(name, quick) for name in NAMES}
    data = {name: pair[0] for name, pair in loaded.items()}
    rows: list[dict[str, Any]] = []
    for pid, what, goal, source, judge in TARGETS:
        d, file = loaded[source]
        if d is None:
            met, figure = None, f"not measured (no bench/results/{source}.json)"
        else:
            try:
                met, figure = judge(d)
            except (KeyError, TypeError, ZeroDivisionError, ValueError) as err:
                met, figure = None, f"figures incomplete in {file}.json ({err!r})"
        rows.append({"id": pid, "what": what, "target": goal, "met": met, "figure": figure,
                     "source": file or source})  # fmt: skip
    result: dict[str, Any] = {
        "machine": machine(data),
        "versions": versions(data),
        "targets": rows,
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "make_bench_total_s": total_s,
    }
    v = result["versions"]
    lines = [
        "# Benchmarks: latest" + (" (quick subset)" if quick else ""),
        "",
        f"{result['machine']['cpu']}, {result['machine']['cores']} cores, kernel "
        f"{result['machine']['kernel']}; generated {result['generated']}"
        + (f"; the whole run took {total_s / 60:.1f} min" if total_s else "")
        + ".",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in sorted(v.items())) + ".",
        "",
        "| # | what | target | met | measured | details |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = {True: "**met**", False: "**missed**", None: "n/a"}[r["met"]]
        lines.append(
            f"| {r['id']} | {r['what']} | {r['target']} | {verdict} | {r['figure']} | "
            f"[{r['source']}.md]({r['source']}.md) |"
        )
    lines += [
        "",
        "Every figure comes from a run that measured its baseline too (direct-to-upstream, "
        "LiteLLM, a bare grpc.aio server, the bare hop and row fetch, curl and hf_hub_download, "
        "a bare Python HTTP server's RSS, the Python import floor); see each linked report for the "
        "side-by-side tables and method.",
    ]
    misses = [r["id"] for r in rows if r["met"] is False]
    if misses:
        lines += ["", "## The targets missed: what explains each, and what it would take", ""]
        lines += [f"- **{pid}**: {WHY.get(pid, 'not analysed yet.')}" for pid in misses]
    if quick:
        lines.append(
            "Quick subset: fewer rounds and shorter steps, no soak; a row whose source has no "
            "`-quick` suffix shows the last full run's figure."
        )
    return "\n".join(lines) + "\n", result


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--quick", action="store_true")
    cli.add_argument("--total-seconds", type=float, default=None)
    args = cli.parse_args()
    text, result = assemble(args.quick, args.total_seconds)
    write_results("latest-quick" if args.quick else "latest", text, result)


if __name__ == "__main__":
    main()
