"""What the benchmarks in this folder share: the percentile they all rank by, and where and how
each writes its figures (bench/results/<name>.md for people, .json for tools)."""

from __future__ import annotations

import contextlib
import platform
import sys
from pathlib import Path
from typing import Any

import msgspec

RESULTS = Path(__file__).parent / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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
