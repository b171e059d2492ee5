"""What the benchmarks in this folder share: the percentile they all rank by, and where and how
each writes its figures (bench/results/<name>.md for people, .json for tools)."""

from __future__ import annotations

import contextlib
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

import msgspec

RESULTS = Path(__file__).parent / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(rounds: list[list[float]]) -> dict[str, Any]:
    """Interleaved rounds of latencies: the median of the round medians, pooled p99 and mean."""
    pooled = [x for r in rounds for x in r]
    if not pooled:
        return {"requests": 0}
    return {
        "requests": len(pooled),
        "p50_ms": ms(statistics.median(statistics.median(r) for r in rounds if r)),
        "p99_ms": ms(percentile(pooled, 0.99)),
        "mean_ms": ms(statistics.fmean(pooled)),
    }


def added(base: list[list[float]], path: list[list[float]]) -> dict[str, float]:
    """What `path` adds to `base`: the median of the per-round median differences, and the
    difference of the pooled p99s."""
    diffs = [statistics.median(p) - statistics.median(b) for b, p in zip(base, path, strict=True)]
    pooled_base = [x for r in base for x in r]
    pooled_path = [x for r in path for x in r]
    return {
        "p50_ms": ms(statistics.median(diffs)),
        "p99_ms": ms(percentile(pooled_path, 0.99) - percentile(pooled_base, 0.99)),
    }


def cpu_model() -> str:
    """The CPU the figures were taken on."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def ms(value: float) -> float:
    return round(value, 3)


def write_results(name: str, text: str, result: dict[str, Any]) -> None:
    """bench/results/<name>.md (the report) and .json (the figures); the report on stdout."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    sys.stdout.write(text)
