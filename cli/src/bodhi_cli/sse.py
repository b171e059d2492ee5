"""Server-sent events from lines of text (the WHATWG event-stream format)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

DONE = "[DONE]"  # the last `data:` of an OpenAI stream


@dataclass(frozen=True)
class Event:
    """One dispatched event: its name ("message" unless named) and its data lines joined."""

    event: str
    data: str


def _field(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name, value.removeprefix(" ")


def events(lines: Iterable[str]) -> Iterator[Event]:
    """Events as a blank line ends each; comments (`:`), `id` and `retry` are skipped, an event
    without data is not dispatched, and an unfinished last event is dropped (as browsers do)."""
    name, data = "", list[str]()
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield Event(name or "message", "\n".join(data))
            name, data = "", []
            continue
        field, value = _field(line)
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value


def data_lines(lines: Iterable[str]) -> Iterator[str]:
    """The data of each event of an OpenAI stream, up to (not including) [DONE]."""
    for event in events(lines):
        if event.data == DONE:
            return
        yield event.data
