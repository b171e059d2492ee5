"""Identity benchmark (issue #4, PERFORMANCE.md P6), measured side by side in one run on a whole
stack started like the e2e tests (every service, the gateway and the dev OIDC provider, on free
ports, against the local PostgreSQL/Redis):

1. Warm bearer authentication in the gateway. Over HTTP, c=1 back-to-back and at low load (5 ms
   gap), interleaved rounds with a rotating order of: GET /ping (no auth), GET /bodhi/v1/user
   without credentials (same handler, anonymous) and GET /bodhi/v1/user with a warm API token
   (answered from the bearer cache, no backend call). In process, the cache hit itself:
   token_digest + BearerCache.get on a full cache, and Authenticator.context for a bearer header.
   Zero calls on the warm path, shown two ways: in process, a counting auth client sees no call
   after the first; across processes, auth-svc and the provider are paused (SIGSTOP) while warm
   bearer requests keep succeeding and a never-seen token (a cold lookup) hangs.
2. Login callback work excluding the provider: GET /ui/auth/callback (state, binding, auth-svc
   CompleteLogin with the provider's code exchange, id_token verification, user upsert, session)
   for distinct users, each paired with a code exchange of our own at the same provider's token
   endpoint (a client registered like auth-svc's, the same OidcProvider code and httpx client),
   so that ours = callback total - provider token call.

    uv run python bench/identity.py [--rounds 8] [--per-round 300] [--logins 60]

Writes bench/results/identity.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import importlib.metadata
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import asyncpg
import httpx
import msgspec
import redis
import uvloop
from litestar.connection import ASGIConnection
from redis.asyncio import Redis

from auth_svc.oidc import ClientCredentials, OidcProvider
from bodhi_common.channels import open_channel
from bodhi_common.clock import SystemClock
from bodhi_common.internal_auth import InternalAuth
from bodhi_devstack.components import SERVICES
from bodhi_devstack.infra import SessionServers
from bodhi_devstack.oidc import OIDC_DIR
from bodhi_devstack.postgres import drop_database
from bodhi_devstack.proc import free_port
from bodhi_devstack.redis_server import RedisDatabase
from bodhi_devstack.stack import HOST, Stack, StackPlan
from bodhi_e2e.client import BodhiClient
from gateway.authn import Authenticator
from gateway.bearer_cache import BearerCache, Throttle, token_digest
from gateway.clients.auth import AuthClient
from gateway.identity import AuthContext, Level
from gateway.sessions import SessionStore
from gateway.settings import GatewaySettings
from gateway.web import CALLBACK_PATH, SESSION_COOKIE, Web

RESULTS = Path(__file__).parent / "results"
TOKEN_SCOPE = "scope_token_user"  # noqa: S105 - a scope name
CACHE_ENTRIES = 10_000  # the gateway's bearer cache holds at most this many tokens
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PATHS = ("ping", "user_anonymous", "user_bearer")
Connection = ASGIConnection[Any, Any, Any, Any]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(value: float) -> float:
    return round(value, 3)


# --- the stack -------------------------------------------------------------------------------


@contextlib.contextmanager
def launch(servers: SessionServers, data_dir: Path) -> Iterator[Stack]:
    """A whole stack like the e2e tests': its own databases on the test PostgreSQL (dropped
    afterwards), its own Redis logical database (flushed and released), its own provider."""
    pg_url = servers.postgres().admin_url
    redis_db = RedisDatabase(servers.redis().url).claim()
    plan = StackPlan(
        data_dir=data_dir,
        gateway_port=free_port(),
        service_ports={c.name: free_port() for c in SERVICES},
        postgres_url=pg_url,
        redis_url=redis_db.url,
        oidc_port=free_port(),
        database_prefix=f"bench_{uuid.uuid4().hex[:8]}_",
        internal_key=uuid.uuid4().hex * 2,
        log_level="warn",
        extra_env={"BODHI_SHUTDOWN_GRACE_SECONDS": "3"},
    )
    log_path = data_dir / "stack.log"
    try:
        with log_path.open("w") as log:
            stack = Stack(plan, sink=log)
            try:
                stack.start()
                yield stack
            finally:
                stack.stop()
    except BaseException:
        sys.stderr.write("--- stack log (last 60 lines) ---\n")
        sys.stderr.writelines(log_path.read_text().splitlines(keepends=True)[-60:])
        raise
    finally:
        for component in SERVICES:
            asyncio.run(drop_database(pg_url, plan.database_name(component)))
        redis_db.flush()
        redis_db.release()


# --- 1. warm bearer authentication over HTTP ---------------------------------------------------


class RawHttp:
    """One keep-alive HTTP/1.1 connection with a minimal blocking client: the same few
    microseconds of client work on every path, so differences between paths are the server's."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host = f"{host}:{port}"
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""

    def close(self) -> None:
        self._sock.close()

    def get_request(self, path: str, headers: dict[str, str] | None = None) -> bytes:
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def send(self, raw: bytes) -> tuple[int, bytes]:
        self._sock.sendall(raw)
        while b"\r\n\r\n" not in self._buffer:
            self._recv()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked responses are not expected here")
        self._buffer = rest
        while len(self._buffer) < length:
            self._recv()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return status, body

    def _recv(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self._buffer += chunk


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class HttpAB:
    """Interleaved rounds over one keep-alive connection; per-path latencies (ms), errors and
    gateway CPU seconds."""

    def __init__(self, conn: RawHttp, requests: dict[str, bytes], gateway: int) -> None:
        self._conn = conn
        self._requests = requests
        self._gateway = gateway

    def one(self, name: str) -> tuple[float, int, bytes]:
        raw = self._requests[name]
        started = time.perf_counter()
        status, body = self._conn.send(raw)
        return (time.perf_counter() - started) * 1000, status, body

    def warm_up(self, count: int) -> None:
        for name in self._requests:
            for _ in range(count):
                _, status, body = self.one(name)
                if status != 200:
                    raise RuntimeError(f"warm-up {name}: {status} {body[:200]!r}")

    def rounds(self, rounds: int, per_round: int, gap: float) -> dict[str, Any]:
        names = list(self._requests)
        samples: dict[str, list[list[float]]] = {name: [] for name in names}
        errors = dict.fromkeys(names, 0)
        cpu = dict.fromkeys(names, 0.0)
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                latencies: list[float] = []
                cpu_before = cpu_seconds(self._gateway)
                for _ in range(per_round):
                    if gap:
                        time.sleep(gap)
                    latency, status, _ = self.one(name)
                    if status == 200:
                        latencies.append(latency)
                    else:
                        errors[name] += 1
                cpu[name] += cpu_seconds(self._gateway) - cpu_before
                samples[name].append(latencies)
        return {
            name: summarize(samples[name])
            | {
                "errors": errors[name],
                "gateway_cpu_ms_per_request": ms(cpu[name] * 1000 / (rounds * per_round)),
            }
            for name in names
        } | {"_samples": samples}


def summarize(rounds: list[list[float]]) -> dict[str, Any]:
    pooled = [x for r in rounds for x in r]
    return {
        "requests": len(pooled),
        "p50_ms": ms(statistics.median(statistics.median(r) for r in rounds)),
        "p99_ms": ms(percentile(pooled, 0.99)),
        "mean_ms": ms(statistics.fmean(pooled)),
    }


def added(base: list[list[float]], path: list[list[float]]) -> dict[str, float]:
    """Median of the per-round median differences, and the difference of pooled p99s."""
    diffs = [statistics.median(p) - statistics.median(b) for b, p in zip(base, path, strict=True)]
    pooled_base = [x for r in base for x in r]
    pooled_path = [x for r in path for x in r]
    return {
        "p50_ms": ms(statistics.median(diffs)),
        "p99_ms": ms(percentile(pooled_path, 0.99) - percentile(pooled_base, 0.99)),
    }


def http_bearer(stack: Stack, token: str, args: argparse.Namespace) -> dict[str, Any]:
    """Back-to-back and low-load rounds of the three paths; added = minus /ping and minus the
    anonymous /bodhi/v1/user (same handler, no credentials)."""
    conn = RawHttp(HOST, stack.plan.gateway_port)
    try:
        requests = {
            "ping": conn.get_request("/ping"),
            "user_anonymous": conn.get_request("/bodhi/v1/user"),
            "user_bearer": conn.get_request("/bodhi/v1/user", {"Authorization": f"Bearer {token}"}),
        }
        ab = HttpAB(conn, requests, stack.children["gateway"].pid)
        result: dict[str, Any] = {}
        for label, gap, rounds, per_round in (
            ("back_to_back", 0.0, args.rounds, args.per_round),
            ("low_load_5ms_gap", 0.005, 2, args.per_round // 2),
        ):
            measured = ab.rounds(rounds, per_round, gap)
            samples = measured.pop("_samples")
            measured["bearer_minus_ping"] = added(samples["ping"], samples["user_bearer"])
            measured["bearer_minus_anonymous"] = added(
                samples["user_anonymous"], samples["user_bearer"]
            )
            result[label] = measured
        return result
    finally:
        conn.close()


def isolation_proof(stack: Stack, warm: str, cold: str, count: int) -> dict[str, Any]:
    """Pause auth-svc and the provider (SIGSTOP): warm bearer requests must still be answered
    (200, api_token); a token the gateway has not seen must not be (it needs auth-svc), which
    shows the pause really cuts the gateway off from auth-svc."""
    paused = [stack.children["auth"], stack.children["oidc"]]
    conn = RawHttp(HOST, stack.plan.gateway_port, timeout=5.0)
    ab = HttpAB(
        conn,
        {"warm": conn.get_request("/bodhi/v1/user", {"Authorization": f"Bearer {warm}"})},
        stack.children["gateway"].pid,
    )
    ab.warm_up(50)  # the connection, not the cache: the token is already cached
    control_wait = 1.5
    for child in paused:
        child.send_signal(signal.SIGSTOP)
    try:
        latencies: list[float] = []
        failures = 0
        for _ in range(count):
            try:
                latency, status, body = ab.one("warm")
            except OSError:
                failures += 1
                continue
            if status == 200 and TOKEN_SCOPE.encode() in body:
                latencies.append(latency)
            else:
                failures += 1
        control = RawHttp(HOST, stack.plan.gateway_port, timeout=control_wait)
        try:
            status, _ = control.send(
                control.get_request("/bodhi/v1/user", {"Authorization": f"Bearer {cold}"})
            )
            cold_outcome = f"answered {status} while auth-svc was paused"
        except TimeoutError:
            cold_outcome = f"no answer within {control_wait} s (waits for auth-svc, as expected)"
        finally:
            control.close()
    finally:
        for child in paused:
            child.send_signal(signal.SIGCONT)
        conn.close()
    return {
        "paused": [child.name for child in paused],
        "warm_requests": count,
        "warm_ok": len(latencies),
        "warm_failed": failures,
        "warm_p50_ms": ms(statistics.median(latencies)) if latencies else None,
        "warm_p99_ms": ms(percentile(latencies, 0.99)) if latencies else None,
        "cold_token_control": cold_outcome,
    }


# --- 1b. the cache hit in process ----------------------------------------------------------


class CountingAuth(AuthClient):
    """Stands in for auth-svc: answers every bearer lookup with one principal and counts them."""

    def __init__(self, ctx: AuthContext) -> None:  # no channel: nothing here goes on the wire
        self.calls = 0
        self._ctx = ctx

    async def authenticate_bearer(
        self, token: str, client_address: str
    ) -> tuple[AuthContext, float | None]:
        self.calls += 1
        return self._ctx, None


def bearer_scope(header: bytes | None) -> Any:
    headers = [(b"host", b"127.0.0.1:1135"), (b"user-agent", b"bench")]
    if header is not None:
        headers.append((b"authorization", header))
    return {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/bodhi/v1/user", "raw_path": b"/bodhi/v1/user", "root_path": "",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 1135), "state": {},
    }  # fmt: skip


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e6


async def in_process(redis_url: str, calls: int) -> dict[str, Any]:
    """token_digest + BearerCache.get on a full cache, and Authenticator.context on fresh
    connections (built outside the timed loop, as Litestar builds them for every request)."""
    clock = SystemClock()
    settings = GatewaySettings(redis_url=redis_url, bodhi_internal_key="k" * 48)
    client = Redis.from_url(redis_url)
    cache = BearerCache(client, clock, settings.bodhi_bearer_cache_seconds)
    principal = AuthContext(
        kind="api_token", user_id=str(uuid.uuid4()), username="bench", token_scope=Level.USER,
        token_id=str(uuid.uuid4()),
    )  # fmt: skip
    auth = CountingAuth(principal)
    listener = asyncio.create_task(cache.listen())  # the cache stores only while it listens
    try:
        for _ in range(250):
            cache.put(token_digest("bench-probe"), principal, None)
            if cache.get(token_digest("bench-probe")) is not None:
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError("the bearer cache never subscribed to its invalidation channel")
        for i in range(CACHE_ENTRIES - 2):
            cache.put(token_digest(f"bodhiapp_other-{i}"), principal, None)
        token = "bodhiapp_" + secrets.token_urlsafe(32)
        authenticator = Authenticator(
            auth, SessionStore(client, clock, idle=7200, absolute=86400), cache,
            Throttle(client, 20), client, Web(settings), clock,
        )  # fmt: skip
        header = f"Bearer {token}".encode()
        first = await authenticator.context(ASGIConnection(bearer_scope(header)))
        assert first.kind == "api_token"
        assert auth.calls == 1
        digest = token_digest(token)
        assert cache.get(digest) is not None
        tasks_before = len(asyncio.all_tasks())

        async def batch_us(header: bytes | None, kind: str, size: int = 5_000) -> float:
            connections: list[Connection] = [
                ASGIConnection(bearer_scope(header)) for _ in range(size)
            ]
            started = time.perf_counter()
            for connection in connections:
                await authenticator.context(connection)
            elapsed = time.perf_counter() - started
            assert (await authenticator.context(connections[0])).kind == kind
            return elapsed / size * 1e6

        # Alternating batches, so that drift on a noisy box hits both alike.
        bearer_batches: list[float] = []
        anonymous_batches: list[float] = []
        for b in range(max(2, calls // 5_000)):
            pair = [(header, "api_token", bearer_batches), (None, "anonymous", anonymous_batches)]
            for batch_header, kind, out in pair[b % 2 :] + pair[: b % 2]:
                out.append(await batch_us(batch_header, kind))
        bearer_us = statistics.median(bearer_batches)
        anonymous_us = statistics.median(anonymous_batches)
        context_diff_us = statistics.median(
            b - a for b, a in zip(bearer_batches, anonymous_batches, strict=True)
        )
        calls_on_warm_path = auth.calls - 1
        new_tasks = len(asyncio.all_tasks()) - tasks_before
        single: list[float] = []
        for _ in range(20_000):
            started = time.perf_counter_ns()
            cache.get(token_digest(token))
            single.append((time.perf_counter_ns() - started) / 1000)
        timer: list[float] = []
        for _ in range(20_000):
            started = time.perf_counter_ns()
            timer.append((time.perf_counter_ns() - started) / 1000)
        return {
            "cache_entries": CACHE_ENTRIES,
            "calls": calls,
            "token_digest_us": round(per_call_us(lambda: token_digest(token), calls), 3),
            "cache_get_us": round(per_call_us(lambda: cache.get(digest), calls), 3),
            "digest_plus_get_us": round(
                per_call_us(lambda: cache.get(token_digest(token)), calls), 3
            ),
            "digest_plus_get_p50_us": round(percentile(single, 0.5), 3),
            "digest_plus_get_p99_us": round(percentile(single, 0.99), 3),
            "timer_overhead_p50_us": round(percentile(timer, 0.5), 3),
            "context_bearer_us": round(bearer_us, 3),
            "context_anonymous_us": round(anonymous_us, 3),
            "context_bearer_minus_anonymous_us": round(context_diff_us, 3),
            "auth_calls_on_warm_path": calls_on_warm_path,
            "auth_calls_counted_over": 5_000 * len(bearer_batches),
            "background_tasks_started": new_tasks,
        }
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await client.aclose()


# --- 2. login callback ---------------------------------------------------------------------


async def walk_provider(http: httpx.AsyncClient, url: str, username: str, until: str) -> str:
    """Follow the provider's redirects (its own cookie jar, emptied first) as a browser would,
    logging in `username` by login_hint; the URL it finally sends the browser to on `until`."""
    http.cookies.clear()
    url = url + "&" + urlencode({"login_hint": username})
    for _ in range(10):
        response = await http.get(url)
        if response.status_code not in (302, 303):
            raise RuntimeError(f"provider answered {response.status_code}: {response.text[:200]}")
        url = urljoin(url, response.headers["location"])
        if urlsplit(url).netloc == until:
            return url
    raise RuntimeError("the provider never redirected back")


def pkce() -> tuple[str, str, str, str]:
    """state, nonce, verifier and S256 challenge of a new login."""
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return state, nonce, verifier, challenge.decode().rstrip("=")


def code_of(url: str, state: str) -> str:
    query = parse_qs(urlsplit(url).query)
    if query.get("state") != [state] or "code" not in query:
        raise RuntimeError(f"the provider did not send a code back: {sorted(query)}")
    return query["code"][0]


class Logins:
    """Three ways through a login against one stack and its provider: the whole gateway
    callback, auth-svc's CompleteLogin alone, and the provider's code exchange alone."""

    def __init__(
        self, stack: Stack, auth: AuthClient, provider: OidcProvider, client: ClientCredentials,
        redirect_uri: str,
    ) -> None:  # fmt: skip
        self._auth = auth
        self._provider = provider
        self._client = client
        self._gateway_netloc = urlsplit(stack.gateway_url).netloc
        self._gateway_callback = stack.gateway_url + CALLBACK_PATH
        self._direct_redirect = redirect_uri
        self.browser = httpx.AsyncClient(base_url=stack.gateway_url, timeout=10)
        self.provider_http = httpx.AsyncClient(timeout=10, follow_redirects=False)

    async def close(self) -> None:
        await self.browser.aclose()
        await self.provider_http.aclose()

    async def gateway_login(self, username: str) -> dict[str, float]:
        """initiate → the provider → GET /ui/auth/callback, timing only the last request; then a
        GET /ping on the same client (the HTTP + client floor of one request)."""
        self.browser.cookies.clear()  # a new browser: no session, no login cookie
        started = await self.browser.post("/bodhi/v1/auth/initiate")
        if started.status_code != 201:
            raise RuntimeError(f"initiate: {started.status_code} {started.text[:200]}")
        callback = await walk_provider(
            self.provider_http, started.json()["location"], username, self._gateway_netloc
        )
        t0 = time.perf_counter()
        finished = await self.browser.get(callback)
        callback_ms = (time.perf_counter() - t0) * 1000
        if finished.status_code != 200 or SESSION_COOKIE not in self.browser.cookies:
            raise RuntimeError(f"callback: {finished.status_code} {finished.text[:300]}")
        t0 = time.perf_counter()
        await self.browser.get("/ping")
        return {"callback_ms": callback_ms, "http_floor_ms": (time.perf_counter() - t0) * 1000}

    async def complete_login(self, username: str) -> dict[str, float]:
        """auth-svc's CompleteLogin called over gRPC exactly as the gateway calls it (its
        AuthClient), for a login begun by BeginLogin with the gateway's redirect URI."""
        state, nonce, verifier, challenge = pkce()
        start = await self._auth.begin_login(
            redirect_uri=self._gateway_callback, state=state, nonce=nonce,
            code_challenge=challenge,
        )  # fmt: skip
        back = await walk_provider(self.provider_http, start.url, username, self._gateway_netloc)
        code = code_of(back, state)
        t0 = time.perf_counter()
        await self._auth.complete_login(
            code=code, code_verifier=verifier, nonce=nonce, redirect_uri=self._gateway_callback
        )
        return {"complete_login_ms": (time.perf_counter() - t0) * 1000}

    async def direct_exchange(self, username: str) -> dict[str, float]:
        """A login of our own client at the same provider, timing the code exchange (what
        auth-svc's CompleteLogin waits for) and the id_token check (same code, in process)."""
        state, nonce, verifier, challenge = pkce()
        meta = await self._provider.metadata()
        url = self._provider.authorization_url(
            meta, client_id=self._client.client_id, redirect_uri=self._direct_redirect,
            state=state, nonce=nonce, code_challenge=challenge,
        )  # fmt: skip
        back = await walk_provider(
            self.provider_http, url, username, urlsplit(self._direct_redirect).netloc
        )
        code = code_of(back, state)
        t0 = time.perf_counter()
        tokens = await self._provider.exchange_code(
            self._client, code=code, code_verifier=verifier, redirect_uri=self._direct_redirect
        )
        token_ms = (time.perf_counter() - t0) * 1000
        assert tokens.id_token is not None
        t0 = time.perf_counter()
        await self._provider.verify_id_token(
            tokens.id_token, client_id=self._client.client_id, nonce=nonce
        )
        return {"token_ms": token_ms, "verify_ms": (time.perf_counter() - t0) * 1000}


async def login_bench(stack: Stack, logins: int, warm_up: int) -> dict[str, Any]:
    """`logins` rounds of (gateway login, CompleteLogin alone, provider exchange alone), each
    as a new user, rotating the order; differences are taken within a round."""
    run = uuid.uuid4().hex[:6]
    redirect_uri = f"http://{HOST}:{free_port()}/cb"  # never requested: the code is read off it
    timeout = httpx.Timeout(10.0, connect=3.0)  # as auth-svc's provider client
    internal = InternalAuth(stack.plan.internal_key or "", "gateway", SystemClock())
    async with (
        httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http,
        open_channel(f"{HOST}:{stack.plan.service_ports['auth']}") as channel,
    ):
        provider = OidcProvider(stack.oidc_issuer, http, SystemClock())
        registration = await provider.register_client(
            name="identity benchmark", redirect_uris=[redirect_uri], initial_access_token=None
        )
        client = ClientCredentials(
            client_id=registration.client_id, client_secret=registration.client_secret
        )
        auth = AuthClient(channel, internal, timeout=10.0)
        driver = Logins(stack, auth, provider, client, redirect_uri)
        try:
            runs: dict[str, list[dict[str, float]]] = {"gw": [], "complete": [], "direct": []}
            for i in range(warm_up + logins):
                arms: list[tuple[str, Callable[[], Awaitable[dict[str, float]]]]] = [
                    ("gw", partial(driver.gateway_login, f"bench-{run}-gw-{i:03}")),
                    ("complete", partial(driver.complete_login, f"bench-{run}-cl-{i:03}")),
                    ("direct", partial(driver.direct_exchange, f"bench-{run}-rp-{i:03}")),
                ]
                for kind, step in arms[i % 3 :] + arms[: i % 3]:
                    measured = await step()
                    if i >= warm_up:
                        runs[kind].append(measured)
        finally:
            await driver.close()
    total = [r["callback_ms"] for r in runs["gw"]]
    complete = [r["complete_login_ms"] for r in runs["complete"]]
    token = [r["token_ms"] for r in runs["direct"]]
    floor = [r["http_floor_ms"] for r in runs["gw"]]
    verify = [r["verify_ms"] for r in runs["direct"]]

    def minus(a: list[float], b: list[float]) -> list[float]:
        return [x - y for x, y in zip(a, b, strict=True)]

    def stats(values: list[float]) -> dict[str, float]:
        return {"p50_ms": ms(percentile(values, 0.5)), "p99_ms": ms(percentile(values, 0.99))}

    return {
        "logins": len(total),
        "distinct_users": len(total) + len(complete),
        "warm_up_rounds": warm_up,
        "callback_total": stats(total),
        "complete_login_grpc": stats(complete),
        "provider_token_call": stats(token),
        "ours_pairwise": stats(minus(total, token)),
        "auth_svc_own_pairwise": stats(minus(complete, token)),
        "gateway_own_pairwise": stats(minus(total, complete)),
        "ours_p50_of_total_minus_p50_of_token_ms": ms(
            percentile(total, 0.5) - percentile(token, 0.5)
        ),
        "http_floor_same_client": stats(floor),
        "id_token_verify_in_process": stats(verify),
        "max_callback_ms": ms(max(total)),
    }


# --- setup, versions, report ---------------------------------------------------------------


def prepare(stack: Stack) -> tuple[str, str]:
    """Set up the app, log in its first user (the admin), and make two API tokens: one to keep
    warm, one never used before the isolation check."""
    with BodhiClient(stack.gateway_url) as admin:
        response = admin.setup("Identity benchmark server")
        if response.status_code != 200:
            raise RuntimeError(f"setup: {response.status_code} {response.text}")
        admin.login_as("admin")
        return admin.create_token(TOKEN_SCOPE, "warm"), admin.create_token(TOKEN_SCOPE, "cold")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def versions(stack: Stack) -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version()}
    for package in (
        "litestar", "uvicorn", "httptools", "uvloop", "grpcio", "httpx", "redis", "asyncpg",
        "msgspec", "joserfc", "cryptography",
    ):  # fmt: skip
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    node = shutil.which("node")
    if node is not None:
        found["node"] = subprocess.run(  # noqa: S603 - our own node binary, fixed arguments
            [node, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    package_json = OIDC_DIR / "node_modules" / "oidc-provider" / "package.json"
    with contextlib.suppress(OSError, msgspec.DecodeError):
        found["oidc-provider"] = msgspec.json.decode(package_json.read_bytes())["version"]

    async def postgres_version() -> str:
        conn = await asyncpg.connect(stack.postgres_url)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    found["postgresql"] = asyncio.run(postgres_version())
    with redis.Redis.from_url(stack.redis_url) as client:
        found["redis-server"] = str(client.info("server")["redis_version"])
    return found


def measure(servers: SessionServers, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bodhi-bench-identity-") as tmp:
        started = time.monotonic()
        with launch(servers, Path(tmp)) as stack:
            startup_s = time.monotonic() - started
            warm, cold = prepare(stack)
            # The first bearer request fills the cache; the isolation check comes right after,
            # well inside the cache's 60 s, then the timed rounds.
            filled = time.monotonic()
            conn = RawHttp(HOST, stack.plan.gateway_port)
            try:
                ab = HttpAB(
                    conn,
                    {
                        name: conn.get_request(path, headers)
                        for name, path, headers in (
                            ("ping", "/ping", None),
                            ("user_anonymous", "/bodhi/v1/user", None),
                            ("user_bearer", "/bodhi/v1/user", {"Authorization": f"Bearer {warm}"}),
                        )
                    },
                    stack.children["gateway"].pid,
                )
                ab.warm_up(args.warm_up)
            finally:
                conn.close()
            isolation = isolation_proof(stack, warm, cold, args.per_round)
            http = http_bearer(stack, warm, args)
            cache_age = time.monotonic() - filled
            logins = uvloop.run(login_bench(stack, args.logins, args.login_warm_up))
            micro = uvloop.run(in_process(stack.redis_url, args.calls))
            found = versions(stack)
    return {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "kernel": platform.release(),
            "workers": "1 uvicorn worker (gateway), 1 process per service",
        },
        "versions": found,
        "settings": {
            "rounds": args.rounds,
            "per_round": args.per_round,
            "warm_up": args.warm_up,
            "logins": args.logins,
            "in_process_calls": args.calls,
        },
        "startup_s": round(startup_s, 2),
        "bearer_http": http,
        "bearer_cache_age_at_end_s": round(cache_age, 1),
        "warm_path_isolation": isolation,
        "bearer_in_process": micro,
        "login": logins,
    }


def report(result: dict[str, Any]) -> str:
    m, v = result["machine"], result["versions"]
    http, iso, micro, login = (
        result["bearer_http"], result["warm_path_isolation"], result["bearer_in_process"],
        result["login"],
    )  # fmt: skip
    s = result["settings"]
    lines = [
        "# identity benchmark (P6 bearer authentication, login callback)",
        "",
        f"{m['cpu']}, {m['cores']} cores, Linux {m['kernel']}; {m['workers']}. Python "
        f"{v['python']}, litestar {v.get('litestar')}, uvicorn {v.get('uvicorn')}, grpcio "
        f"{v.get('grpcio')}, httpx {v.get('httpx')}, redis-py {v.get('redis')}; PostgreSQL "
        f"{v.get('postgresql')}, Redis {v.get('redis-server')}, node {v.get('node')} + "
        f"oidc-provider {v.get('oidc-provider')}. Whole stack started like the e2e tests in "
        f"{result['startup_s']} s.",
        "",
        f"## Warm bearer authentication over HTTP ({s['rounds']} interleaved rounds x "
        f"{s['per_round']} per path after {s['warm_up']} warm-up, one keep-alive connection, "
        "raw HTTP/1.1 client)",
        "",
        "| path | c=1 p50 ms | c=1 p99 ms | low load (5 ms gap) p50 / p99 ms | gateway CPU ms/req "
        "| errors |",
        "|---|---|---|---|---|---|",
    ]
    b2b, low = http["back_to_back"], http["low_load_5ms_gap"]
    labels = {
        "ping": "GET /ping (no auth)",
        "user_anonymous": "GET /bodhi/v1/user, no credentials",
        "user_bearer": "GET /bodhi/v1/user, warm API token",
    }
    for name in PATHS:
        row, slow = b2b[name], low[name]
        lines.append(
            f"| {labels[name]} | {row['p50_ms']} | {row['p99_ms']} | {slow['p50_ms']} / "
            f"{slow['p99_ms']} | {row['gateway_cpu_ms_per_request']} | "
            f"{row['errors'] + slow['errors']} |"
        )
    for key, label in (
        ("bearer_minus_ping", "bearer - /ping"),
        ("bearer_minus_anonymous", "bearer - anonymous /bodhi/v1/user"),
    ):
        lines.append(
            f"| **added: {label}** | **{b2b[key]['p50_ms']}** | {b2b[key]['p99_ms']} | "
            f"{low[key]['p50_ms']} / {low[key]['p99_ms']} | | |"
        )
    lines += [
        "",
        "(p50 = median of round medians; p99 pooled; added p99 = difference of pooled p99s.)",
        "",
        f"## The cache hit in process ({micro['calls']} calls each, cache holding "
        f"{micro['cache_entries']} tokens)",
        "",
        "| step | per call |",
        "|---|---|",
        f"| token_digest (SHA-256 of the token) | {micro['token_digest_us']} us |",
        f"| BearerCache.get | {micro['cache_get_us']} us |",
        "| **token_digest + BearerCache.get** (P6: <= 100 us) | "
        f"**{micro['digest_plus_get_us']} us**"
        f" (timed one by one: p50 {micro['digest_plus_get_p50_us']} / p99 "
        f"{micro['digest_plus_get_p99_us']} us, timer {micro['timer_overhead_p50_us']} us) |",
        f"| Authenticator.context, bearer header, warm (median of {micro['calls'] // 5000} "
        f"batches alternating with the next row) | {micro['context_bearer_us']} us |",
        f"| Authenticator.context, no credentials | {micro['context_anonymous_us']} us |",
        f"| **bearer - no credentials** | **{micro['context_bearer_minus_anonymous_us']} us** |",
        "",
        "## Zero calls to auth-svc or the provider on the warm path",
        "",
        f"- In process: a counting auth client saw {micro['auth_calls_on_warm_path']} calls over "
        f"{micro['auth_calls_counted_over']} warm Authenticator.context calls (and exactly 1 "
        f"for the first, cold, lookup); {micro['background_tasks_started']} background tasks "
        "were started.",
        f"- Across processes: with {' and '.join(iso['paused'])} paused (SIGSTOP), "
        f"{iso['warm_ok']}/{iso['warm_requests']} warm bearer requests were answered 200 "
        f"(p50 {iso['warm_p50_ms']} / p99 {iso['warm_p99_ms']} ms), {iso['warm_failed']} failed; "
        f"control, a token the gateway had not seen: {iso['cold_token_control']}.",
        f"- The cached entry was {result['bearer_cache_age_at_end_s']} s old at the end of the "
        "HTTP rounds (entries live 60 s), so every timed bearer request was a cache hit.",
        "",
        f"## Login callback ({login['logins']} logins after {login['warm_up_rounds']} warm-up "
        f"rounds; {login['distinct_users']} distinct users; each round also times auth-svc's "
        "CompleteLogin alone and a code exchange at the provider alone, rotating the order)",
        "",
        "| | p50 ms | p99 ms |",
        "|---|---|---|",
        f"| callback total: GET /ui/auth/callback until the response | "
        f"{login['callback_total']['p50_ms']} | {login['callback_total']['p99_ms']} |",
        f"| auth-svc CompleteLogin over gRPC, as the gateway calls it | "
        f"{login['complete_login_grpc']['p50_ms']} | {login['complete_login_grpc']['p99_ms']} |",
        f"| provider token call: code exchange at the same provider (OidcProvider + httpx, as "
        f"auth-svc) | {login['provider_token_call']['p50_ms']} | "
        f"{login['provider_token_call']['p99_ms']} |",
        f"| **ours = total - provider** (per round; target <= 20 ms) | "
        f"**{login['ours_pairwise']['p50_ms']}** | **{login['ours_pairwise']['p99_ms']}** |",
        f"| of which auth-svc = CompleteLogin - provider | "
        f"{login['auth_svc_own_pairwise']['p50_ms']} | "
        f"{login['auth_svc_own_pairwise']['p99_ms']} |",
        f"| of which gateway = total - CompleteLogin (incl. HTTP + client) | "
        f"{login['gateway_own_pairwise']['p50_ms']} | {login['gateway_own_pairwise']['p99_ms']} |",
        f"| for scale: one HTTP request on the same client (GET /ping) | "
        f"{login['http_floor_same_client']['p50_ms']} | "
        f"{login['http_floor_same_client']['p99_ms']} |",
        f"| for scale: id_token verification, same code in process | "
        f"{login['id_token_verify_in_process']['p50_ms']} | "
        f"{login['id_token_verify_in_process']['p99_ms']} |",
        "",
        f"p50(total) - p50(provider) = {login['ours_p50_of_total_minus_p50_of_token_ms']} ms; "
        f"slowest callback {login['max_callback_ms']} ms. Differences are taken per round, then "
        "ranked (p99 of a difference is not a difference of p99s); with fewer than 100 logins "
        "p99 is the slowest one, and every difference also carries the provider's own "
        "variance between the two arms of a round, so the p50 rows are the firm figures.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--rounds", type=int, default=8)
    cli.add_argument("--per-round", type=int, default=300)
    cli.add_argument("--warm-up", type=int, default=500)
    cli.add_argument("--logins", type=int, default=60)
    cli.add_argument("--login-warm-up", type=int, default=3)
    cli.add_argument("--calls", type=int, default=100_000)
    args = cli.parse_args()
    with SessionServers() as servers:
        result = measure(servers, args)
    RESULTS.mkdir(exist_ok=True)
    text = report(result)
    (RESULTS / "identity.md").write_text(text)
    (RESULTS / "identity.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
