"""The local upstream's behaviours that tests of a proxy lean on (error statuses, pacing,
stalls, resets), and how quickly a client going away shows in its request log."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from test_upstream import NO_HANG, behaving, chat, client_for, events, record_of

from bodhi_devstack.upstream import Behaviour, LocalUpstream


@pytest.fixture(scope="module")
def up() -> Iterator[LocalUpstream]:
    """An upstream without a key: it checks no Authorization header."""
    with LocalUpstream() as started:
        yield started


def stream_until_error(url: str, body: dict[str, Any]) -> tuple[str, Exception]:
    """The text that arrived before the stream broke, and the failure."""
    received = ""
    try:
        with (
            httpx.Client(timeout=10) as client,
            client.stream("POST", url, json=body) as response,
        ):
            for text in response.iter_text():
                received += text
    except httpx.TransportError as exc:
        return received, exc
    raise AssertionError(f"the stream did not break: {received!r}")


def test_an_error_behaviour_answers_its_status_and_body(up: LocalUpstream) -> None:
    busy = behaving(up, Behaviour(status=429, error_body=b'{"error":{"message":"slow down"}}'))
    response = httpx.post(f"{up.url}/chat/completions", json=chat(busy))
    assert response.status_code == 429
    assert response.content == b'{"error":{"message":"slow down"}}'
    down = behaving(up, Behaviour(status=503))
    with client_for(up) as sdk:
        with pytest.raises(openai.RateLimitError):
            sdk.chat.completions.create(**chat(busy))
        with pytest.raises(openai.InternalServerError) as error:
            sdk.chat.completions.create(**chat(down, stream=True))
    assert error.value.status_code == 503
    assert error.value.code == "upstream_error"


def test_chunk_delay_spaces_the_content_events(up: LocalUpstream) -> None:
    model = behaving(up, Behaviour(chunks=3, chunk_delay=0.05))
    with client_for(up) as sdk:
        stream = sdk.chat.completions.create(**chat(model), stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream)
    assert text == "echo: hello there"
    times = record_of(up, model).chunk_times
    assert len(times) == 6  # role, 3 pieces, finish, [DONE]
    gaps = [b - a for a, b in itertools.pairwise(times[:4])]
    assert all(gap >= 0.04 for gap in gaps), gaps  # a sleep never ends early


def test_a_client_leaving_a_stalled_stream_is_seen_at_once(up: LocalUpstream) -> None:
    model = behaving(up, Behaviour(chunks=4, stall_after=2))
    url = f"{up.url}/chat/completions"
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", url, json=chat(model, stream=True)) as response,
    ):
        seen = ""
        lines = response.iter_lines()
        while seen.count('"content"') < 3:  # the role event and two pieces
            seen += next(lines)
        left = time.monotonic()
    record = record_of(up, model)
    closed = up.wait_closed(record, timeout=NO_HANG)
    assert closed is not None
    assert closed >= left - 0.01
    assert not record.finished
    assert len(record.chunk_times) == 3


def test_a_client_giving_up_on_a_slow_answer_is_seen(up: LocalUpstream) -> None:
    model = behaving(up, Behaviour(delay=60))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{up.url}/chat/completions", json=chat(model), timeout=0.2)
    closed = up.wait_closed(record_of(up, model), timeout=NO_HANG)
    assert closed is not None
    paced = behaving(up, Behaviour(chunk_delay=60))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{up.url}/chat/completions", json=chat(paced, stream=True), timeout=0.2)
    assert up.wait_closed(record_of(up, paced), timeout=NO_HANG) is not None


def test_disconnect_after_breaks_the_stream(up: LocalUpstream) -> None:
    model = behaving(up, Behaviour(chunks=4, disconnect_after=2))
    received, error = stream_until_error(f"{up.url}/chat/completions", chat(model, stream=True))
    assert isinstance(error, httpx.RemoteProtocolError | httpx.ReadError)
    assert len(events(received)) == 2
    assert "[DONE]" not in received
    assert up.wait_closed(record_of(up, model), timeout=NO_HANG) is not None


async def test_await_closed_serves_async_tests(up: LocalUpstream) -> None:
    model = behaving(up, Behaviour(first_byte_delay=60))
    async with httpx.AsyncClient(timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"{up.url}/chat/completions", json=chat(model))
    assert await up.await_closed(record_of(up, model), timeout=NO_HANG) is not None


def test_stopping_cuts_a_stalled_stream_and_record_false_keeps_no_log() -> None:
    with LocalUpstream(record=False) as quiet:
        quiet.behave("stuck", Behaviour(stall_after=0))
        reply = httpx.post(f"{quiet.url}/chat/completions", json=chat("gpt-test"))
        assert reply.json()["choices"][0]["message"]["content"] == "echo: hello there"
        assert quiet.requests == []
        with (
            httpx.Client(timeout=NO_HANG) as client,
            client.stream(
                "POST", f"{quiet.url}/chat/completions", json=chat("stuck", stream=True)
            ) as response,
        ):
            assert response.status_code == 200
            quiet.stop()
            with pytest.raises(httpx.TransportError):
                response.read()
