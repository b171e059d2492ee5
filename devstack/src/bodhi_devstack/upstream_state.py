"""What the local upstream (`bodhi_devstack.upstream`) knows: its models and key, the behaviour
per model, and the log of requests with their progress, shared between the server's thread and
the tests' threads."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

import msgspec


class Behaviour(msgspec.Struct, frozen=True, kw_only=True):
    """How the upstream answers requests for one model; the defaults answer normally.

    - `status` (+ `error_body`): answer with that status and body (default an OpenAI error with
      code `upstream_error`) instead of a completion: 429, 500, 503...
    - `chunks`: how many pieces a streamed reply comes in.
    - `chunk_delay`: seconds slept before each streamed content event.
    - `first_byte_delay`: seconds slept before the response headers.
    - `stall_after`: stream: after this many content events, write nothing more and hold the
      connection until the client goes (non-stream: never answer).
    - `disconnect_after`: stream: after this many events (the first, role-only one included),
      reset the TCP connection (non-stream: reset instead of answering).
    - `delay`: non-stream: seconds slept before answering.

    Every sleep and stall notices a client that goes away and records `closed_at`.
    """

    status: int | None = None
    error_body: bytes | None = None
    chunks: int = 3
    chunk_delay: float = 0.0
    first_byte_delay: float = 0.0
    stall_after: int | None = None
    disconnect_after: int | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.chunks < 1:
            raise ValueError("chunks must be >= 1")
        if min(self.chunk_delay, self.first_byte_delay, self.delay) < 0:
            raise ValueError("delays must be >= 0")
        if min(self.stall_after or 0, self.disconnect_after or 0) < 0:
            raise ValueError("stall_after and disconnect_after must be >= 0")


NORMAL = Behaviour()


class Progress:
    """How far the server got with one request; written by the server, read by tests."""

    __slots__ = ("_closed_at", "_done", "_finished", "_lock", "_times")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._times: list[float] = []
        self._closed_at: float | None = None
        self._finished = False

    def chunk(self, at: float) -> None:
        with self._lock:
            self._times.append(at)

    def close(self, at: float) -> None:
        """The connection dropped (at monotonic time `at`) before the response finished."""
        with self._lock:
            if not self._finished and self._closed_at is None:
                self._closed_at = at
        self._done.set()

    def finish(self) -> None:
        with self._lock:
            if self._closed_at is None:
                self._finished = True
        self._done.set()

    def wait(self, timeout: float | None) -> bool:
        """Wait until the response finished or its connection dropped."""
        return self._done.wait(timeout)

    @property
    def times(self) -> list[float]:
        with self._lock:
            return list(self._times)

    @property
    def closed_at(self) -> float | None:
        with self._lock:
            return self._closed_at

    @property
    def finished(self) -> bool:
        with self._lock:
            return self._finished


class NoProgress(Progress):
    """Progress of an unrecorded request (`record=False`): forgets everything."""

    __slots__ = ()

    def chunk(self, at: float) -> None:
        pass

    def close(self, at: float) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One request the upstream received; `chunk_times`, `closed_at` and `finished` change while
    the server answers it (read them any time, from any thread)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    received_at: float
    progress: Progress = field(default_factory=Progress, repr=False, compare=False)

    @property
    def chunk_times(self) -> list[float]:
        """time.monotonic() of each body write (each SSE event when streaming)."""
        return self.progress.times

    @property
    def closed_at(self) -> float | None:
        """time.monotonic() when the client's connection dropped before the response finished."""
        return self.progress.closed_at

    @property
    def finished(self) -> bool:
        """The whole response was written."""
        return self.progress.finished


class UpstreamState:
    """Models, key, behaviours and the request log."""

    def __init__(self, *, api_key: str | None, models: list[str], record: bool) -> None:
        self.authorization = None if api_key is None else f"Bearer {api_key}".encode()
        self.models = models
        self.record = record
        self.behaviours: dict[str, Behaviour] = {}
        self._lock = threading.Lock()
        self._requests: list[UpstreamRequest] = []
        self._ids = itertools.count(1)
        self._nothing = NoProgress()

    def next_id(self) -> int:
        return next(self._ids)

    def knows(self, model: str) -> bool:
        return model in self.behaviours or model in self.models

    def log(self, scope: dict[str, Any], body: bytes, parsed: Any, at: float) -> Progress:
        if not self.record:
            return self._nothing
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request = UpstreamRequest(
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            body=body,
            json=parsed,
            received_at=at,
        )
        with self._lock:
            self._requests.append(request)
        return request.progress

    def requests(self) -> list[UpstreamRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
