"""Server-sent events as the gateway sends them: named progress events and OpenAI streams."""

from __future__ import annotations

from bodhi_cli.sse import Event, data_lines, events


def test_named_events_with_crlf_and_comments_are_dispatched_at_blank_lines() -> None:
    lines = [
        ": keep-alive\r\n", "event: progress\r\n", 'data: {"a":1}\r\n', "\r\n",
        "id: 7\n", "data: first\n", "data:second\n", "retry: 10\n", "\n",
    ]  # fmt: skip
    assert list(events(lines)) == [
        Event("progress", '{"a":1}'),
        Event("message", "first\nsecond"),
    ]


def test_an_event_without_data_or_an_unfinished_one_is_not_dispatched() -> None:
    assert list(events(["event: progress", "", "data: half"])) == []


def test_only_one_leading_space_is_removed_from_a_value() -> None:
    assert list(events(["data:  two spaces", ""])) == [Event("message", " two spaces")]


def test_an_openai_stream_stops_at_done() -> None:
    lines = ["data: {}", "", "data: [DONE]", "", "data: after", ""]
    assert list(data_lines(lines)) == ["{}"]
