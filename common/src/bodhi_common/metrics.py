"""Prometheus metrics of one process.

Each process builds one `Metrics` (its own registry, never prometheus_client's global one) and
passes it to what it measures. Hot paths stay cheap: label children are bound once (per gRPC
method, per provider), and cache hits are plain integer increments read only when scraped.
Labels come from closed sets only (route templates, method names, status codes, configured
providers), never from request data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: Latency buckets in seconds, from a cached lookup (1 ms) to a long generation (60 s).
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

Read = Callable[[], float]
Family = type[GaugeMetricFamily] | type[CounterMetricFamily]


class HitCounter:
    """Lookups of one in-memory cache; the cache increments, a scrape reads."""

    __slots__ = ("hits", "misses")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0


class Metrics:
    """One process's registry, plus values read from their owners when scraped."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._read = _ReadAtScrape()
        self.registry.register(self._read)
        self._lag = Histogram(
            "bodhi_event_loop_lag_seconds",
            "How late the event loop ran a timer: time callbacks waited behind other work",
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def cache(self, name: str, counter: HitCounter) -> None:
        """Export a cache's hits and misses as bodhi_cache_lookups_total{cache=name}."""
        self._read.caches[name] = counter

    def gauge(self, name: str, documentation: str, read: Read) -> None:
        """A gauge whose value `read` returns at each scrape."""
        self._read.values.append((GaugeMetricFamily, name, documentation, read))

    def counter(self, name: str, documentation: str, read: Read) -> None:
        """A counter (exported as name_total) whose running total `read` returns."""
        self._read.values.append((CounterMetricFamily, name, documentation, read))

    def pool(self, pool: Any) -> None:
        """Connections of an asyncpg pool: open, busy (checked out) and the maximum."""
        self.gauge("bodhi_db_pool_connections", "Open database connections", pool.get_size)
        self.gauge(
            "bodhi_db_pool_busy_connections",
            "Database connections in use",
            lambda: pool.get_size() - pool.get_idle_size(),
        )
        self.gauge("bodhi_db_pool_max_connections", "Pool size limit", pool.get_max_size)

    async def watch_loop(self, interval: float = 0.5) -> None:
        """Measure event-loop lag until cancelled: how much later than asked a sleep ends."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + interval
            await asyncio.sleep(interval)
            self._lag.observe(max(0.0, loop.time() - due))


class _ReadAtScrape(Collector):
    def __init__(self) -> None:
        self.caches: dict[str, HitCounter] = {}
        self.values: list[tuple[Family, str, str, Read]] = []

    def collect(self) -> Iterator[Metric]:
        lookups = CounterMetricFamily(
            "bodhi_cache_lookups", "Lookups of in-memory caches", labels=("cache", "result")
        )
        for name, counter in self.caches.items():
            lookups.add_metric((name, "hit"), counter.hits)
            lookups.add_metric((name, "miss"), counter.misses)
        yield lookups
        for family, name, documentation, read in self.values:
            yield family(name, documentation, value=read())


class GrpcMetrics:
    """Server-side gRPC calls by method and status code, with their latency."""

    def __init__(self, metrics: Metrics) -> None:
        self._handled = Counter(
            "bodhi_grpc_server_handled",
            "gRPC calls finished, by method and status code",
            ("method", "code"),
            registry=metrics.registry,
        )
        self._seconds = Histogram(
            "bodhi_grpc_server_handling_seconds",
            "Time from a gRPC call's start to its end (a stream's last message)",
            ("method",),
            buckets=LATENCY_BUCKETS,
            registry=metrics.registry,
        )

    def method(self, method: str) -> MethodMetrics:
        """The children of one method (bound once per method, not per call)."""
        name = method.lstrip("/")
        return MethodMetrics(name, self._handled, self._seconds.labels(name))


class MethodMetrics:
    """Records calls of one gRPC method."""

    def __init__(self, name: str, handled: Counter, seconds: Histogram) -> None:
        self._name = name
        self._handled = handled
        self._codes: dict[str, Counter] = {}
        self._seconds = seconds

    def done(self, context: grpc.aio.ServicerContext[Any, Any], ok: bool, started: float) -> None:
        """Count a finished call: its status, or CANCELLED/DEADLINE_EXCEEDED when it was
        cancelled before it could set one (the client left, or its deadline passed)."""
        self._seconds.observe(time.perf_counter() - started)
        status: grpc.StatusCode | None = context.code()  # None until a status is set
        if status is not None:
            code = status.name
        elif ok:
            code = "OK"
        else:
            left = context.time_remaining()
            code = "DEADLINE_EXCEEDED" if left is not None and left <= 0 else "CANCELLED"
        child = self._codes.get(code)
        if child is None:
            child = self._codes[code] = self._handled.labels(self._name, code)
        child.inc()
