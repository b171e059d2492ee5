"""The gateway's metrics, in Prometheus text at GET /metrics (no authentication, like /health:
it shows counts and timings by route template, never a path, an id or a credential).

HTTP requests are counted by method, route TEMPLATE (`/bodhi/v1/models/{alias}`, from
Litestar's routing) and status, with latency from the request to the end of its response (for a
stream: its last byte). Requests that match no route never reach route middleware and are not
counted here: they would bring unbounded paths anyway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Response, get
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram

from bodhi_common.metrics import LATENCY_BUCKETS, HitCounter, Metrics
from bodhi_common.tasks import cancel

Key = tuple[str, str, str]  # method, route template, status


# Methods are labels as they are; anything else a client invents is one label, never many.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class GatewayMetrics:
    """The gateway process's registry: HTTP requests, the bearer cache, event-loop lag."""

    def __init__(self, bearer_lookups: HitCounter) -> None:
        self.metrics = Metrics()
        self.metrics.cache("bearer", bearer_lookups)
        registry = self.metrics.registry
        self._requests = Counter(
            "bodhi_http_requests", "HTTP requests answered, by method, route template and status",
            ("method", "route", "status"), registry=registry,
        )  # fmt: skip
        self._seconds = Histogram(
            "bodhi_http_request_duration_seconds", "Time from an HTTP request to the end of its"
            " response, by method and route template", ("method", "route"),
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self._children: dict[Key, tuple[Counter, Histogram]] = {}
        self.route = self._route()

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Wraps the whole app, routing included: after the call the router has put the route's
        template in the scope; requests that matched no route count as `unmatched`."""

        async def measure(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500  # stays so only when the app fails before answering

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                method = scope["method"] if scope["method"] in METHODS else "OTHER"
                key = (method, scope.get("path_template") or "unmatched", str(status))
                self._observe(key, time.perf_counter() - started)

        return measure

    @asynccontextmanager
    async def lifespan(self, _: Litestar) -> AsyncIterator[None]:
        """Measure event-loop lag while the app runs."""
        watcher = asyncio.create_task(self.metrics.watch_loop())
        try:
            yield
        finally:
            await cancel(watcher)

    def _observe(self, key: Key, seconds: float) -> None:
        children = self._children.get(key)
        if children is None:
            children = (self._requests.labels(*key), self._seconds.labels(*key[:2]))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def _route(self) -> HTTPRouteHandler:
        metrics = self.metrics

        @get("/metrics", include_in_schema=False, sync_to_thread=False)
        def scrape() -> Response[bytes]:
            """This process's metrics in the Prometheus text format."""
            return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

        return scrape
