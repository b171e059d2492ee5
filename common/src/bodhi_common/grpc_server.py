"""gRPC server bootstrap: interceptor, standard health and reflection, a dependency probe that
drives health, and a graceful stop (NOT_SERVING first, then in-flight calls get a grace period)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from bodhi_common.errors import StartupError
from bodhi_common.interceptor import ServerInterceptor
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.live_settings import LiveSettings
from bodhi_common.metrics import GrpcMetrics, Metrics
from bodhi_common.metrics_http import MetricsListener
from bodhi_common.tasks import cancel

log = logging.getLogger(__name__)

SERVER_OPTIONS = (
    # Clients ping idle connections to notice a dead peer; accept pings that often.
    ("grpc.keepalive_permit_without_calls", 1),
    # (the C name GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS; with a wrong key the
    # server kept its 5-minute default and answered our 20 s pings with GOAWAY too_many_pings)
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    # Clients re-resolve the service's name when a connection ends: closing each one after five
    # minutes lets them find replicas that started since (calls in flight finish first).
    ("grpc.max_connection_age_ms", 300_000),
)

Probe = Callable[[], Awaitable[bool]]
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class GrpcServer:
    """One service's gRPC server; `add` servicers, `start`, later `stop`."""

    def __init__(
        self,
        *,
        listen: str,
        auth: InternalAuth,
        grace: float,
        probe: Probe,
        metrics_listen: str | None = None,
        max_concurrent_rpcs: int | None = None,
    ) -> None:
        self._listen = listen
        self._grace = grace
        self._probe = probe
        # This process's metrics (the servicers' own are added to it); served on metrics_listen.
        self.metrics = Metrics()
        self._server = grpc.aio.server(
            interceptors=[ServerInterceptor(auth, GrpcMetrics(self.metrics))],
            options=SERVER_OPTIONS,
            maximum_concurrent_rpcs=max_concurrent_rpcs,
        )
        self._scrape = (
            None if metrics_listen is None else MetricsListener(self.metrics, metrics_listen)
        )
        self._lag: asyncio.Task[None] | None = None
        self._health = health.aio.HealthServicer()
        self._names: list[str] = []
        self._watch: asyncio.Task[None] | None = None
        self.port = 0
        # The component's runtime-editable settings (bootstrap.service_server sets it); a
        # service's register() marks its own editable keys on it.
        self.live: LiveSettings | None = None

    def add(self, register: Callable[[Any, Any], None], servicer: object, full_name: str) -> None:
        """Register a servicer, e.g. add(auth_pb2_grpc.add_AuthServiceServicer_to_server, ...)."""
        register(servicer, self._server)
        self._names.append(full_name)

    async def start(self, interval: float = 5.0) -> int:
        """Bind, start serving and report SERVING; returns the bound port."""
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        names = (*self._names, health.SERVICE_NAME, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, self._server)
        try:
            self.port = self._server.add_insecure_port(self._listen)
        except RuntimeError as exc:
            raise StartupError(f"cannot listen on {self._listen}: {exc}") from None
        if self._scrape is not None:
            await self._scrape.start()
        self._lag = asyncio.create_task(self.metrics.watch_loop())
        await self._server.start()
        await self._set_all(_SERVING)
        self._watch = asyncio.create_task(self._watch_dependencies(interval))
        log.info("serving", extra={"listen": self._listen, "port": self.port})
        return self.port

    async def stop(self) -> None:
        """Refuse new calls, let in-flight ones finish within the grace period, then stop."""
        await cancel(self._watch)
        await self._health.enter_graceful_shutdown()
        log.info("stopping", extra={"grace_seconds": self._grace})
        await self._server.stop(self._grace)
        await cancel(self._lag)
        if self._scrape is not None:
            await self._scrape.stop()

    @property
    def metrics_port(self) -> int:
        """The bound port of the /metrics listener (0 when there is none)."""
        return 0 if self._scrape is None else self._scrape.port

    async def _set_all(
        self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType
    ) -> None:
        for name in ("", *self._names):
            await self._health.set(name, status)

    async def _watch_dependencies(self, interval: float) -> None:
        healthy = True
        while True:
            await asyncio.sleep(interval)
            try:
                ok = await asyncio.wait_for(self._probe(), timeout=min(interval, 2.0))
            except Exception:
                ok = False
            if ok != healthy:
                healthy = ok
                log.warning("dependency health changed", extra={"serving": ok})
                await self._set_all(_SERVING if ok else _NOT_SERVING)


async def wait_for_shutdown() -> None:
    """Return on the first SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutdown requested")
