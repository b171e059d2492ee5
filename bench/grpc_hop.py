"""One internal gRPC hop (PERFORMANCE.md P5), unary over loopback, side by side in one run:

- bare: a plain grpc.aio server, no interceptor, answering AuthService.GetAppInfo with a constant;
- service: our real service shape (bodhi_common.bootstrap.running_service: the interceptor with
  internal auth, request ids and error translation, SettingsService, health), serving a probe
  AuthService whose GetAppInfo reads the verified caller; every call carries a freshly minted
  internal token, as the gateway sends it.

Each server runs in a process of its own (uvloop, like the services); the client is this
process.
1. c=1 back to back: interleaved rounds (order rotated each round), median of round medians and
   pooled p99.
2. c=32 on one channel: 32 calls in flight at most, calls/s over a fixed time.

    uv run python bench/grpc_hop.py [--rounds 8] [--per-round 500] [--seconds 5]

Writes bench/results/grpc_hop.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import uvloop
from benchkit import added, cpu_model, ms, summarize, write_results
from proxy_stack import cpu

from bodhi.auth.v1 import auth_pb2, auth_pb2_grpc
from bodhi_common.bootstrap import ServiceSpec, running_service
from bodhi_common.clock import SystemClock
from bodhi_common.config import load
from bodhi_common.context import current_caller
from bodhi_common.grpc_server import GrpcServer
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.service_settings import ServiceSettings
from bodhi_devstack.infra import SessionServers, temporary_database

KEY = "bench-internal-key-0123456789abcdef"
PATHS = ("bare", "service")


# --- the servers (child processes) --------------------------------------------------------------


class Bare(auth_pb2_grpc.AuthServiceServicer):
    async def GetAppInfo(self, request: Any, context: Any) -> auth_pb2.GetAppInfoResponse:
        return auth_pb2.GetAppInfoResponse(version="bare")


class Probe(auth_pb2_grpc.AuthServiceServicer):
    async def GetAppInfo(self, request: Any, context: Any) -> auth_pb2.GetAppInfoResponse:
        return auth_pb2.GetAppInfoResponse(version=current_caller().service)


@asynccontextmanager
async def register(server: GrpcServer, pool: Any, settings: Any, clock: Any) -> AsyncIterator[None]:
    server.add(
        auth_pb2_grpc.add_AuthServiceServicer_to_server,
        Probe(),  # type: ignore[abstract]  # the other methods: UNIMPLEMENTED
        "bodhi.auth.v1.AuthService",
    )
    yield


SPEC = ServiceSpec(component="auth", migrations=Path("/nonexistent"), register=register)


async def _wait_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve_bare() -> None:
    server = grpc.aio.server()
    auth_pb2_grpc.add_AuthServiceServicer_to_server(Bare(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await _wait_signal()
    await server.stop(1)


async def serve_service(database_url: str) -> None:
    environ = {
        "DATABASE_URL": database_url,
        "BODHI_INTERNAL_KEY": KEY,
        "BODHI_GRPC_LISTEN": "127.0.0.1:0",
        "BODHI_LOG_LEVEL": "warn",
    }
    settings = load(ServiceSettings, environ)
    async with running_service(SPEC, settings, SystemClock(), environ) as server:
        print(server.port, flush=True)
        await _wait_signal()


@asynccontextmanager
async def server_process(*args: str) -> AsyncIterator[tuple[int, int]]:
    """(port, pid) of a server child started with `args`."""
    argv = [sys.executable, __file__, "--serve", *args]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: S603, ASYNC220
    try:
        assert child.stdout is not None
        line = await asyncio.to_thread(child.stdout.readline)
        if not line.strip():
            raise RuntimeError(f"server {args[0]} did not start")
        yield int(line), child.pid
    finally:
        child.terminate()
        child.wait(10)


# --- the client ---------------------------------------------------------------------------------


Call = Callable[[], Awaitable[Any]]


async def back_to_back(call: Call, n: int) -> list[float]:
    out = []
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        await call()
        out.append((clock() - t0) * 1000)
    return out


async def concurrent(call: Call, conc: int, seconds: float, pids: list[int]) -> dict[str, Any]:
    done = errors = 0
    deadline = 0.0

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            try:
                await call()
                done += 1
            except grpc.aio.AioRpcError:
                errors += 1

    deadline = time.perf_counter() + 0.5  # untimed lead-in
    await asyncio.gather(*(worker() for _ in range(conc)))
    done = errors = 0
    before = cpu(pids)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(worker() for _ in range(conc)))
    elapsed = time.perf_counter() - started
    spent = cpu(pids) - before
    return {
        "in_flight": conc,
        "seconds": round(elapsed, 2),
        "calls": done,
        "errors": errors,
        "calls_per_s": round(done / elapsed, 1),
        "server_cpu_ms_per_call": ms(spent * 1000 / max(done, 1)),
    }


async def measure(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    auth = InternalAuth(KEY, "gateway", SystemClock())
    request = auth_pb2.GetAppInfoRequest()
    async with (
        server_process("bare") as (bare_port, bare_pid),
        server_process("service", database_url) as (svc_port, svc_pid),
        grpc.aio.insecure_channel(f"127.0.0.1:{bare_port}") as bare_ch,
        grpc.aio.insecure_channel(f"127.0.0.1:{svc_port}") as svc_ch,
    ):
        bare_stub = auth_pb2_grpc.AuthServiceStub(bare_ch)
        svc_stub = auth_pb2_grpc.AuthServiceStub(svc_ch)
        calls: dict[str, Call] = {
            "bare": lambda: bare_stub.GetAppInfo(request),
            "service": lambda: svc_stub.GetAppInfo(request, metadata=auth.metadata("auth")),
        }
        pids = {"bare": [bare_pid], "service": [svc_pid]}
        reply = await calls["service"]()
        if reply.version != "gateway":
            raise RuntimeError(f"the probe saw caller {reply.version!r}")
        for call in calls.values():
            await back_to_back(call, args.warm_up)
        rounds: dict[str, list[list[float]]] = {name: [] for name in PATHS}
        for r in range(args.rounds):
            order = PATHS if r % 2 == 0 else PATHS[::-1]
            for name in order:
                rounds[name].append(await back_to_back(calls[name], args.per_round))
        c1 = {name: summarize(rounds[name]) for name in PATHS}
        c1["service_added"] = added(rounds["bare"], rounds["service"])
        c32 = {name: await concurrent(calls[name], 32, args.seconds, pids[name]) for name in PATHS}
    return {
        "c1": c1,
        "c32": c32,
        "ratio_service_to_bare_c32": round(
            c32["service"]["calls_per_s"] / c32["bare"]["calls_per_s"], 3
        ),
    }


def report(result: dict[str, Any]) -> str:
    c1, c32 = result["c1"], result["c32"]
    s = result["settings"]
    lines = [
        "# One internal gRPC hop (P5)",
        "",
        f"{result['machine']['cpu']}, {result['machine']['cores']} cores, Python "
        f"{platform.python_version()}, grpcio {grpc.__version__}, uvloop in every process. "
        "Unary AuthService.GetAppInfo over loopback TCP, each server in its own process.",
        "",
        f"## c=1 back to back ({s['rounds']} interleaved rounds x {s['per_round']}, "
        f"warm-up {s['warm_up']})",
        "",
        "| path | p50 ms | p99 ms | mean ms |",
        "|---|---|---|---|",
    ]
    for name in PATHS:
        row = c1[name]
        lines.append(f"| {name} | {row['p50_ms']} | {row['p99_ms']} | {row['mean_ms']} |")
    lines += [
        f"| service minus bare | {c1['service_added']['p50_ms']} | "
        f"{c1['service_added']['p99_ms']} | |",
        "",
        f"## c=32 on one channel ({s['seconds']} s, at most 32 calls in flight)",
        "",
        "| path | calls/s | errors | server CPU ms/call |",
        "|---|---|---|---|",
    ]
    for name in PATHS:
        row = c32[name]
        lines.append(
            f"| {name} | {row['calls_per_s']} | {row['errors']} | {row['server_cpu_ms_per_call']} |"
        )
    lines += [
        "",
        f"P5 (our service shape): p50 at c=1 **{c1['service']['p50_ms']} ms** (target <= 0.6), "
        f"**{c32['service']['calls_per_s']} calls/s** per channel at c=32 (target >= 4,000); "
        f"{result['ratio_service_to_bare_c32']} x the bare grpc.aio server's rate. The service "
        "path includes minting the internal token on the client per call, as the gateway does.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        kind = sys.argv[2]
        uvloop.run(serve_bare() if kind == "bare" else serve_service(sys.argv[3]))
        return
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--rounds", type=int, default=8)
    cli.add_argument("--per-round", type=int, default=500)
    cli.add_argument("--warm-up", type=int, default=500)
    cli.add_argument("--seconds", type=float, default=5.0)
    cli.add_argument("--name", default="grpc_hop", help="results file name (bench/results/<name>)")
    args = cli.parse_args()
    with SessionServers() as servers, temporary_database(servers.postgres().admin_url) as url:
        result = uvloop.run(measure(url, args))
    result["machine"] = {"cpu": cpu_model(), "cores": os.cpu_count()}
    result["versions"] = {"python": platform.python_version(), "grpcio": grpc.__version__}
    result["settings"] = vars(args)
    write_results(args.name, report(result), result)


if __name__ == "__main__":
    main()
