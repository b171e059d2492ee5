"""The soak's report (soak.py): what was injected, what held, the figures."""

from __future__ import annotations

from typing import Any

OURS = ("gateway", "auth", "secret", "model", "aiproxy")  # judged; the dev OIDC provider is not


def verdicts(result: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(expectation, held, figure) for each thing the soak promises."""
    kinds, checks = result["kinds"], result["checks"]
    steady = sum(k["errors_steady"] for k in kinds.values())
    classes = {c for k in kinds.values() for c in k["classes"]}
    bad = sorted(c for c in classes if c.startswith("5xx 500") or c in ("timeout", "stream cut"))
    fail_open = sum(k["classes"].get("session answered as logged out", 0) for k in kinds.values())
    slowest = max((k["slowest_error_s"] for k in kinds.values()), default=0.0)
    pulls = checks["pull_states"]
    grown = {n: g["growth_pct"] for n, g in result["growth"].items()
             if g["growth_pct"] is not None and n in OURS}  # fmt: skip
    worst = max(grown.values(), default=0.0)
    recovered = [f for f in result["faults"] if f["ready_after_heal_s"] is None]
    late = second_half_growth(result)
    leak = max(late.values(), default=0.0)
    return [
        (
            "no acknowledged write lost",
            not checks["acked_writes_lost"],
            f"{checks['acked_writes']} acknowledged, {len(checks['acked_writes_lost'])} lost; "
            f"{checks['unanswered_writes']} unanswered, {checks['unanswered_writes_present']} of "
            "them present",
        ),
        (
            "every accepted pull completes intact",
            set(pulls) <= {"completed"} and not checks["blobs_corrupt"],
            f"{checks['pulls_accepted']} accepted: {pulls}; {checks['blobs_checked']} blobs "
            f"hashed, {len(checks['blobs_corrupt'])} corrupt",
        ),
        ("no 500, no hang, no cut stream", not bad, ", ".join(bad) or "none"),
        ("a session is never answered as logged out", fail_open == 0, f"{fail_open}"),
        ("no error in steady state (outside fault windows)", steady == 0, f"{steady}"),
        (
            "every fault recovers without a restart of anything else",
            not recovered,
            f"{len(result['faults']) - len(recovered)}/{len(result['faults'])} ready after heal",
        ),
        ("errors come fast (slowest error answer)", slowest < 10, f"{slowest} s"),
        (
            "RSS growth of our processes never restarted, after warm-up <= 5 % (P9's bound, "
            "which assumes no faults)",
            worst <= 5,
            f"max {worst} %",
        ),
        (
            "no leak: their RSS over the second half of the run grows <= 2 %",
            leak <= 2,
            ", ".join(f"{n} {g} %" for n, g in late.items()) or "no samples",
        ),
    ]


def second_half_growth(result: dict[str, Any]) -> dict[str, float]:
    """Per process of ours never restarted: RSS growth from the middle of the run to its end
    (%); one-time steps (first faults, first reconnects) fall in the first half, a leak does not
    stop growing."""
    samples = result.get("rss_samples") or []
    if len(samples) < 4:
        return {}
    mid, last = samples[len(samples) // 2], samples[-1]
    out: dict[str, float] = {}
    for name in OURS:
        g = result["growth"].get(name)
        if g is None or g["restarted"] or not mid.get(name) or not last.get(name):
            continue
        out[name] = round((last[name] - mid[name]) / mid[name] * 100, 2)
    return out


def _steady(kind: dict[str, Any]) -> str:
    if not kind["steady"]:
        return ""
    return " (" + ", ".join(f"{c} at {at} s" for at, c in kind["steady"]) + ")"


def report(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [
        "# Load + faults soak (issue #9)",
        "",
        f"{result['machine']['cpu']}, {result['machine']['cores']} cores; {s['seconds']:g} s of "
        f"traffic, a fault every {s['period']:g} s held for {s['fault_seconds']:g} s (the first "
        f"after {s['warm_up']:g} s); the run took {result['total_run_s'] / 60:.1f} min. Rates per "
        "second: "
        + ", ".join(f"{k} {v:g}" for k, v in s["rates_per_s"].items())
        + f"; a login every {s['login_every_s']:g} s, a pull every {s['pull_every_s']:g} s. "
        f"Errors up to {s['recovery_s']:g} s after /ready answered again count as the fault's.",
        "",
        "| expectation | held | figure |",
        "|---|---|---|",
    ]
    lines += [f"| {e} | {'yes' if ok else '**no**'} | {f} |" for e, ok, f in verdicts(result)]
    lines += [
        "",
        "## Requests by kind",
        "",
        "| kind | sent | ok | errors in fault windows | errors in steady state | p50 / p99 ms "
        "(answers) | slowest error s |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, k in sorted(result["kinds"].items()):
        lines.append(
            f"| {kind} | {k['sent']} | {k['ok']} | {k['errors_in_faults']} | "
            f"{k['errors_steady']}{_steady(k)} | "
            f"{k['p50_ms']} / {k['p99_ms']} | {k['slowest_error_s']} |"
        )
    lines += ["", "Error classes:", ""]
    for kind, k in sorted(result["kinds"].items()):
        if k["classes"]:
            shown = ", ".join(f"{c} x{n}" for c, n in sorted(k["classes"].items()))
            lines.append(f"- {kind}: {shown}")
    lines += [
        "",
        "## Faults injected",
        "",
        "| at s | fault | healed at s | /ready 200 after heal, s |",
        "|---|---|---|---|",
    ]
    for f in result["faults"]:
        ready = "never (60 s)" if f["ready_after_heal_s"] is None else f["ready_after_heal_s"]
        lines.append(f"| {f['from_s']} | {f['fault']} | {f['healed_s']} | {ready} |")
    lines += ["", "What each fault cost (errors in its window, by kind and class):", ""]
    for name, seen in sorted(result["by_fault"].items()):
        lines.append(f"- {name}: " + ", ".join(f"{c} x{n}" for c, n in sorted(seen.items())))
    lines += [
        "",
        "## RSS (MB)",
        "",
        "| process | after warm-up | end | peak | growth % |",
        "|---|---|---|---|---|",
    ]
    for name, g in result["growth"].items():
        grown = "restarted" if g["restarted"] else g["growth_pct"]
        lines.append(
            f"| {name} | {g['after_warm_up_mb']} | {g['end_mb']} | {g['peak_mb']} | {grown} |"
        )
    samples = result.get("rss_samples") or []
    if samples:
        picks = [samples[min(len(samples) - 1, round(q * (len(samples) - 1)))]
                 for q in (0.0, 0.25, 0.5, 0.75, 1.0)]  # fmt: skip
        lines += ["", "RSS over the run (MB; 0: not running at that moment), to tell a plateau "
                  "from a leak:", "", "| process | " + " | ".join(f"{p['t_s']:g} s" for p in picks)
                  + " |", "|---|" + "---|" * len(picks)]  # fmt: skip
        for name in result["growth"]:
            lines.append(f"| {name} | " + " | ".join(str(p.get(name, "")) for p in picks) + " |")
    return "\n".join(lines) + "\n"
