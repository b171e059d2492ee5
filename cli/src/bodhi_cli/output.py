"""What commands print: readable tables and lines, or the raw JSON with --json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


class Output:
    """stdout for results, stderr for progress and errors; `json` says --json was given."""

    def __init__(self, *, json_mode: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.json_mode = json_mode
        self.stdout = stdout
        self.stderr = stderr

    def line(self, text: str = "") -> None:
        """A line of the result."""
        self.stdout.write(text + "\n")

    def write(self, text: str) -> None:
        """Text as it arrives (a streamed reply)."""
        self.stdout.write(text)
        self.stdout.flush()

    def json(self, value: Any, *, compact: bool = False) -> None:
        """A JSON value (one line each when compact, for streams)."""
        indent = None if compact else 2
        self.stdout.write(json.dumps(value, indent=indent, ensure_ascii=False) + "\n")
        self.stdout.flush()

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A table, or a note that there is nothing to list."""
        self.line(table(headers, rows) if rows else "(none)")

    def note(self, text: str) -> None:
        """A human remark on stderr (never part of a result)."""
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def is_tty(self) -> bool:
        """Whether stderr (where progress goes) is a terminal."""
        return self.stderr.isatty()
