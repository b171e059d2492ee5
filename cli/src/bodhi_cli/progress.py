"""How a download's progress is shown: a bar redrawn in place on a terminal, a line per step
of progress otherwise (logs and pipes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TextIO

TERMINAL = frozenset({"completed", "error", "cancelled"})
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


@dataclass(frozen=True, kw_only=True)
class Progress:
    """A progress event of the pull stream (or a download's state)."""

    status: str
    downloaded: int
    total: int | None
    speed: float
    error: str | None = None
    error_code: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        """From the gateway's DownloadOut/ProgressOut JSON."""
        return cls(
            status=str(data.get("status", "")),
            downloaded=int(data.get("downloaded_bytes") or 0),
            total=int(data["total_bytes"]) if data.get("total_bytes") is not None else None,
            speed=float(data.get("bytes_per_second") or 0.0),
            error=data.get("error"),
            error_code=data.get("error_code"),
        )

    @property
    def fraction(self) -> float | None:
        """Done as a fraction in [0, 1]; None while the size is unknown."""
        if not self.total:
            return None
        return min(max(self.downloaded / self.total, 0.0), 1.0)


def human_bytes(count: float) -> str:
    """1536 → "1.5 KiB"; bytes are whole."""
    value, unit = float(count), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{int(value)} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def bar(fraction: float, width: int = 30) -> str:
    """[#######.......] for a fraction in [0, 1]."""
    filled = round(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def describe(progress: Progress) -> str:
    """Percent, sizes and speed: 45% 12.0 MiB / 26.7 MiB 3.1 MiB/s (sizes alone without a total)."""
    amount = human_bytes(progress.downloaded)
    if progress.total is not None:
        amount += f" / {human_bytes(progress.total)}"
    fraction = progress.fraction
    percent = f"{fraction * 100:3.0f}% " if fraction is not None else ""
    speed = f" {human_bytes(progress.speed)}/s" if progress.status == "pending" else ""
    return f"{percent}{amount}{speed}"


def bar_line(name: str, progress: Progress) -> str:
    """The terminal line: name, bar, numbers, status once it is not pending."""
    fraction = progress.fraction if progress.status != "completed" else 1.0
    drawn = bar(fraction) + " " if fraction is not None else ""
    state = "" if progress.status == "pending" else f" {progress.status}"
    return f"{name} {drawn}{describe(progress)}{state}"


def plain_line(name: str, progress: Progress) -> str:
    """A log line: name, status, numbers."""
    return f"{name}: {progress.status} {describe(progress)}"


class Display:
    """Shows progress events: redraws one line on a TTY; prints a line on each new tenth (and
    on every change of status) otherwise, so a log gets a few lines, not hundreds."""

    def __init__(self, name: str, stream: TextIO, tty: bool) -> None:
        self.name, self.stream, self.tty = name, stream, tty
        self._last: tuple[str, int] | None = None
        self._width = 0

    def show(self, progress: Progress) -> None:
        """Draw one event."""
        if self.tty:
            line = bar_line(self.name, progress)
            self.stream.write("\r" + line.ljust(self._width))
            self._width = max(self._width, len(line))
        else:
            step = (progress.status, int((progress.fraction or 0.0) * 10))
            if step == self._last:
                return
            self._last = step
            self.stream.write(plain_line(self.name, progress) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line."""
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
