"""A pause after a dependency failed: for a few seconds the caller does not wait on it again
(the rate limits leave Redis alone; recently verified bearer tokens skip auth-svc), so a hung
dependency costs one timeout, not one per request."""

from __future__ import annotations

from bodhi_common.clock import Clock


class Pause:
    """`active` for `seconds` after each `start` (on the monotonic clock)."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self._seconds = seconds
        self._until = 0.0

    @property
    def active(self) -> bool:
        return self._clock.monotonic() < self._until

    def start(self) -> None:
        self._until = self._clock.monotonic() + self._seconds
