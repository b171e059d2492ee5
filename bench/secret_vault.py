"""secret-svc benchmark (issue #3, PERFORMANCE.md P7), measured side by side in one run:

1. GetSecret over gRPC, open loop at a fixed rate (scheduled by wall clock, so slow replies are
   not hidden), against two baselines on the same channel and database: the bare gRPC hop
   (grpc.health.v1 Check) and the row fetched straight from PostgreSQL.
2. Rotate + rewrap of N secrets through the API.
3. Per-call crypto: our record scheme (HKDF + AES-256-GCM) against the original's
   (PBKDF2-HMAC-SHA256, 1,000 rounds, per call).

    uv run python bench/secret_vault.py [--rate 500] [--seconds 10] [--records 10000]

Writes bench/results/secret_vault.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
import uvloop
from benchkit import percentile, write_results
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bodhi.secret.v1 import secret_pb2 as pb
from bodhi.secret.v1.secret_pb2_grpc import SecretServiceStub
from bodhi_common.clock import SystemClock
from bodhi_common.context import Principal
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.probe import check
from bodhi_devstack.infra import SessionServers, temporary_database
from bodhi_devstack.proc import Child, free_port
from secret_svc import crypto

if TYPE_CHECKING:  # the async stub class exists only in the generated type stubs
    from bodhi.secret.v1.secret_pb2_grpc import SecretServiceAsyncStub

KEY = "bench-internal-key-0123456789abcdef"


async def open_loop(
    call: Callable[[], Awaitable[Any]], rate: float, seconds: float
) -> dict[str, Any]:
    """Fire `call` at `rate`/s by the wall clock; latency counts from the scheduled time.
    (time.perf_counter, not loop.time: uvloop's clock has millisecond resolution.)"""
    clock = time.perf_counter
    latencies: list[float] = []
    errors = 0

    async def one(scheduled: float) -> None:
        nonlocal errors
        try:
            await call()
            latencies.append((clock() - scheduled) * 1000)
        except grpc.aio.AioRpcError:
            errors += 1

    start, total = clock() + 0.05, int(rate * seconds)
    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    return {
        "calls": total,
        "errors": errors,
        "p50_ms": round(percentile(latencies, 0.50), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "achieved_rate": round(total / (clock() - start), 1),
    }


async def fill(
    stub: SecretServiceAsyncStub, count: int, metadata: Any, concurrency: int = 32
) -> None:
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            request = pb.PutSecretRequest(namespace="aiproxy", name=f"k/{i:05}", value=b"x" * 64)
            await stub.PutSecret(request, metadata=metadata)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def crypto_costs(rounds: int = 2000) -> dict[str, float]:
    kek, aad, value = crypto.random_key(), b"aad", b"sk-" + b"x" * 48
    sealed = crypto.seal(kek, aad, value)
    started = time.perf_counter()
    for _ in range(rounds):
        crypto.open_sealed(kek, aad, sealed)
    ours = (time.perf_counter() - started) / rounds * 1e6
    salt, nonce = os.urandom(32), os.urandom(12)
    key = hashlib.pbkdf2_hmac("sha256", kek, salt, 1000, 32)
    ciphertext = crypto.AESGCM(key).encrypt(nonce, value, None)
    started = time.perf_counter()
    for _ in range(rounds // 10):
        crypto.AESGCM(hashlib.pbkdf2_hmac("sha256", kek, salt, 1000, 32)).decrypt(
            nonce, ciphertext, None
        )
    original = (time.perf_counter() - started) / (rounds // 10) * 1e6
    return {"ours_us": round(ours, 2), "original_pbkdf2_1000_us": round(original, 2)}


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BODHI_INTERNAL_KEY": KEY,
        "BODHI_GRPC_LISTEN": f"127.0.0.1:{port}",
        "BODHI_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "BODHI_LOG_LEVEL": "warn",
    }
    service = Child("secret", [sys.executable, "-m", "secret_svc"], env=env, sink=sys.stderr)
    started = time.monotonic()
    service.start().wait_ready(lambda: check(f"127.0.0.1:{port}", 0.5), 30)
    startup_s = time.monotonic() - started
    try:
        return await run_all(url, port, args) | {"startup_s": round(startup_s, 2)}
    finally:
        service.stop()


async def run_all(url: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    internal = InternalAuth(KEY, "aiproxy", SystemClock())
    caller = internal.metadata("secret")
    admin = InternalAuth(KEY, "gateway", SystemClock()).metadata(
        "secret", Principal(sub="bench", role="resource_admin")
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub, health = SecretServiceStub(channel), health_pb2_grpc.HealthStub(channel)
        await fill(stub, 100, caller)
        get = pb.GetSecretRequest(namespace="aiproxy", name="k/00042")
        pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
        fetch = "SELECT salt, nonce, ciphertext FROM secrets WHERE namespace = $1 AND name = $2"
        paths: dict[str, Callable[[], Awaitable[Any]]] = {
            "grpc_hop": lambda: health.Check(health_pb2.HealthCheckRequest()),
            "db_row": lambda: pool.fetchrow(fetch, "aiproxy", "k/00042"),
            "get_secret": lambda: stub.GetSecret(get, metadata=caller),
        }
        for call in paths.values():  # warm-up
            await open_loop(call, args.rate, 1)
        latency = {
            name: await open_loop(call, args.rate, args.seconds) for name, call in paths.items()
        }
        await pool.close()
        await fill(stub, args.records, caller)
        started = time.perf_counter()
        await stub.RotateKey(pb.RotateKeyRequest(), metadata=admin)
        rewrap = await stub.Rewrap(pb.RewrapRequest(batch_size=500), metadata=admin, timeout=600)
        rotate_rewrap_s = time.perf_counter() - started
    return {
        "latency": latency,
        "rotate_rewrap": {
            "records": rewrap.rewrapped_count,
            "seconds": round(rotate_rewrap_s, 2),
            "remaining": rewrap.remaining_count,
        },
        "crypto_per_call": crypto_costs(),
    }


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    lat = result["latency"]
    crypto_cost = result["crypto_per_call"]
    lines = [
        "# secret-svc benchmark",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, grpcio {grpc.__version__}; rate {args.rate}/s for "
        f"{args.seconds} s per path, open loop.",
        "",
        "| path | p50 ms | p99 ms | errors | achieved/s |",
        "|---|---|---|---|---|",
    ]
    for name, row in lat.items():
        lines.append(
            f"| {name} | {row['p50_ms']} | {row['p99_ms']} | {row['errors']} | "
            f"{row['achieved_rate']} |"
        )
    added = lat["get_secret"]["p99_ms"] - lat["grpc_hop"]["p99_ms"]
    rr = result["rotate_rewrap"]
    lines += [
        "",
        f"- GetSecret p99 {lat['get_secret']['p99_ms']} ms (target <= 2 ms); "
        f"{added:.3f} ms above the bare gRPC hop's p99.",
        f"- Rotate + rewrap of {rr['records']} secrets: {rr['seconds']} s (target <= 10 s), "
        f"{rr['remaining']} left.",
        f"- Opening one record: {crypto_cost['ours_us']} us (HKDF + AES-GCM) vs "
        f"{crypto_cost['original_pbkdf2_1000_us']} us with the original's PBKDF2 x1000 per call "
        f"({crypto_cost['original_pbkdf2_1000_us'] / crypto_cost['ours_us']:.0f}x).",
        f"- Service start-up to SERVING: {result['startup_s']} s.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--rate", type=float, default=500)
    cli.add_argument("--seconds", type=float, default=10)
    cli.add_argument("--records", type=int, default=10_000)
    args = cli.parse_args()
    with SessionServers() as servers, temporary_database(servers.postgres().admin_url) as url:
        result = uvloop.run(measure(url, args))
    text = report(result, args)
    write_results("secret_vault", text, result)


if __name__ == "__main__":
    main()
