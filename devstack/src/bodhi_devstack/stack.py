"""The whole system on one machine: PostgreSQL, Redis and an OIDC provider (given, or embedded),
then the four services and the gateway as child processes. Used by `make run` and by the e2e
tests, so both start exactly the same processes (see components.py)."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx
import msgspec

from bodhi_common.probe import check as grpc_serving
from bodhi_devstack.components import GATEWAY, SERVICES, Component, addr_variable
from bodhi_devstack.faults import FaultProxy
from bodhi_devstack.oidc import start_oidc
from bodhi_devstack.postgres import EmbeddedPostgres, database_url, ensure_databases
from bodhi_devstack.proc import Child
from bodhi_devstack.redis_server import redis_url, start_redis

HOST = "127.0.0.1"


class StackPlan(msgspec.Struct, kw_only=True):
    """Where everything runs. A URL left None means: start the embedded one under data_dir."""

    data_dir: Path
    gateway_port: int = GATEWAY.port
    service_ports: dict[str, int] = msgspec.field(
        default_factory=lambda: {c.name: c.port for c in SERVICES}
    )
    postgres_url: str | None = None  # a server admin URL; one database per service is made on it
    redis_url: str | None = None
    oidc_issuer: str | None = None
    postgres_port: int = 54329
    redis_port: int = 63799
    oidc_port: int = 8091
    oidc_host: str = HOST  # the embedded issuer's host, e.g. "localhost": another site
    database_prefix: str = "bodhi_"
    persist: bool = True  # embedded Redis keeps its data across restarts
    log_level: str = "info"
    internal_key: str | None = None  # None: read or create <data_dir>/internal.key
    extra_env: dict[str, str] = msgspec.field(default_factory=dict)  # passed to every process
    oidc_env: dict[str, str] = msgspec.field(default_factory=dict)  # e.g. OIDC_ACCESS_TOKEN_TTL
    hf_home: Path | None = None  # the model cache; None: <data_dir>/hf
    ready_timeout: float = 30.0
    metrics_ports: dict[str, int] | None = None  # None: each gRPC port + 1000 (the default)
    # Fault tests: a FaultProxy on each link of the gateway (to each service, to Redis) and of
    # each service to PostgreSQL; see Stack.proxies. Off for `make run`.
    fault_proxies: bool = False

    def database_name(self, component: Component) -> str:
        """The database of one service, e.g. bodhi_auth."""
        return f"{self.database_prefix}{component.name}"

    @property
    def model_cache(self) -> Path:
        """HF_HOME of model-svc."""
        return self.hf_home or self.data_dir / "hf"


class Stack:
    """Starts and stops every process of the plan; children are reachable for fault tests."""

    def __init__(self, plan: StackPlan, sink: TextIO | None = None) -> None:
        self.plan = plan
        self._sink = sink if sink is not None else sys.stdout
        self.children: dict[str, Child] = {}
        # With plan.fault_proxies: "auth", "secret", "model", "aiproxy" and "redis" are the
        # gateway's links, "auth-db" etc. each service's link to PostgreSQL.
        self.proxies: dict[str, FaultProxy] = {}
        self._postgres: EmbeddedPostgres | None = None
        self._env: dict[str, str] = {}
        self.postgres_url = ""
        self.redis_url = ""
        self.oidc_issuer = ""

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway."""
        return f"http://{HOST}:{self.plan.gateway_port}"

    def start(self) -> None:
        """Start everything and return once the gateway reports ready; on failure stop what
        was started and raise proc.StartupError with the failing process's last output."""
        try:
            self._start_infrastructure()
            self._env = self._values()
            if self.plan.fault_proxies:
                self._start_proxies()
            for component in SERVICES:
                self._spawn(component)
            for component in SERVICES:
                self._wait_serving(component)
            self._spawn(GATEWAY).wait_ready(self.gateway_ready, self.plan.ready_timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the gateways, then the services, then what the stack started itself."""
        extras = [name for name in self.children if name.startswith("gateway-")]
        for name in (*extras, GATEWAY.name, *(c.name for c in reversed(SERVICES)), "oidc", "redis"):
            child = self.children.get(name)
            if child is not None:
                child.stop(grace=15)
        for proxy in self.proxies.values():
            proxy.stop()
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None

    def restart(self, name: str) -> Child:
        """Start a stopped or killed component again and wait until it serves."""
        component = next(c for c in (*SERVICES, GATEWAY) if c.name == name)
        self.children[name].stop(grace=5)
        child = self._spawn(component)
        if component is GATEWAY:
            child.wait_ready(self.gateway_ready, self.plan.ready_timeout)
        else:
            self._wait_serving(component)
        return child

    def extra_gateway(self, port: int, **overrides: str) -> Child:
        """Another gateway instance on `port` over the same services and Redis (with setting
        overrides), for tests of what several instances share; stopped with the stack."""
        env = self._component_env(GATEWAY) | {"BODHI_PORT": str(port)} | overrides
        name = f"gateway-{port}"
        argv = [sys.executable, "-m", GATEWAY.module]
        child = Child(name, argv, env=env, sink=self._sink).start()
        self.children[name] = child
        url = f"http://{HOST}:{port}/health"
        child.wait_ready(lambda: _answers(url), self.plan.ready_timeout)
        return child

    def gateway_ready(self) -> bool:
        """True when GET /ready answers 200."""
        return _answers(f"{self.gateway_url}/ready")

    def _start_infrastructure(self) -> None:
        plan = self.plan
        plan.data_dir.mkdir(parents=True, exist_ok=True)
        if plan.postgres_url is None:
            self._postgres = EmbeddedPostgres(
                plan.data_dir / "postgres", plan.postgres_port, self._sink
            )
            self.postgres_url = self._postgres.start()
        else:
            self.postgres_url = plan.postgres_url
        names = [plan.database_name(c) for c in SERVICES]
        asyncio.run(ensure_databases(self.postgres_url, names))
        if plan.redis_url is None:
            redis_dir = plan.data_dir / "redis"
            redis_dir.mkdir(exist_ok=True)
            self.children["redis"] = start_redis(
                redis_dir, plan.redis_port, persist=plan.persist, sink=self._sink
            )
            self.redis_url = redis_url(plan.redis_port)
        else:
            self.redis_url = plan.redis_url
        if plan.oidc_issuer is None:
            self.oidc_issuer = f"http://{plan.oidc_host}:{plan.oidc_port}"
            oidc_dir = plan.data_dir / "oidc"
            oidc_dir.mkdir(exist_ok=True)
            self.children["oidc"] = start_oidc(
                self.oidc_issuer, oidc_dir, sink=self._sink, extra_env=plan.oidc_env
            )
        else:
            self.oidc_issuer = plan.oidc_issuer

    def _start_proxies(self) -> None:
        postgres, redis = urlsplit(self.postgres_url), urlsplit(self.redis_url)
        for component in SERVICES:
            self.proxies[component.name] = FaultProxy.to(self._env[addr_variable(component)])
            self.proxies[f"{component.name}-db"] = FaultProxy(
                postgres.hostname or HOST, postgres.port or 5432
            )
        self.proxies["redis"] = FaultProxy(redis.hostname or HOST, redis.port or 6379)
        for proxy in self.proxies.values():
            proxy.start()

    def _values(self) -> dict[str, str]:
        """Every variable some component reads; each gets the ones components.py lists."""
        plan = self.plan
        values = {
            "BODHI_INTERNAL_KEY": plan.internal_key or internal_key(plan.data_dir),
            "BODHI_MASTER_KEY_FILE": str(master_key_file(plan.data_dir)),
            "HF_HOME": str(plan.model_cache),
            "REDIS_URL": self.redis_url,
            "BODHI_OIDC_ISSUER": self.oidc_issuer,
            "BODHI_HOST": HOST,
            "BODHI_PORT": str(plan.gateway_port),
        }
        for component in SERVICES:
            values[addr_variable(component)] = f"{HOST}:{plan.service_ports[component.name]}"
        return values

    def _component_env(self, component: Component) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env |= {"PYTHONUNBUFFERED": "1", "BODHI_LOG_LEVEL": self.plan.log_level}
        values = dict(self._env)
        proxies = self.proxies
        if component.database is not None:
            name = self.plan.database_name(component)
            values["DATABASE_URL"] = database_url(self.postgres_url, name)
            values["BODHI_GRPC_LISTEN"] = values[addr_variable(component)]
            env["BODHI_METRICS_LISTEN"] = self.metrics_address(component.name)
            if proxies:
                values["DATABASE_URL"] = _via(
                    values["DATABASE_URL"], proxies[f"{component.name}-db"]
                )
        elif proxies:  # the gateway
            values["REDIS_URL"] = _via(values["REDIS_URL"], proxies["redis"])
            for service in SERVICES:
                values[addr_variable(service)] = proxies[service.name].address
        env |= {key: values[key] for key in component.env}
        return env | self.plan.extra_env

    def metrics_address(self, name: str) -> str:
        """host:port where a service serves GET /metrics."""
        ports = self.plan.metrics_ports
        port = ports[name] if ports is not None else self.plan.service_ports[name] + 1000
        return f"{HOST}:{port}"

    def _spawn(self, component: Component) -> Child:
        argv = [sys.executable, "-m", component.module]
        child = Child(component.name, argv, env=self._component_env(component), sink=self._sink)
        self.children[component.name] = child.start()
        return child

    def _wait_serving(self, component: Component) -> None:
        address = f"{HOST}:{self.plan.service_ports[component.name]}"
        self.children[component.name].wait_ready(
            lambda: grpc_serving(address, timeout=0.5), self.plan.ready_timeout
        )


def _via(url: str, proxy: FaultProxy) -> str:
    """`url` with its host:port replaced by the proxy's (credentials kept)."""
    parts = urlsplit(url)
    credentials, at, _ = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{credentials}{at}{proxy.address}"))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def internal_key(data_dir: Path) -> str:
    """The dev stack's internal key: BODHI_INTERNAL_KEY, else one kept in <data_dir>/internal.key
    (made on first run, readable by the owner only)."""
    from_env = os.environ.get("BODHI_INTERNAL_KEY")
    if from_env:
        return from_env
    return _key_file(data_dir / "internal.key", secrets.token_urlsafe(48)).read_text().strip()


def master_key_file(data_dir: Path) -> Path:
    """The vault's master key for the dev stack: <data_dir>/master.key, base64 of 32 random
    bytes, made on first run (losing it makes the dev vault unreadable, as in production)."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return _key_file(data_dir / "master.key", key)


def _key_file(path: Path, new_value: str) -> Path:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_value + "\n")
    return path
