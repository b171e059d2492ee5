"""Warm bearer authentication over HTTP (identity.py, part 1): a raw keep-alive HTTP/1.1 client,
interleaved rounds of /ping, anonymous and bearer /bodhi/v1/user with the gateway's CPU time, and
the proof across processes that the warm path calls neither auth-svc nor the provider."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import time
from pathlib import Path
from typing import Any

from benchkit import added, ms, percentile, summarize
from identity_stack import TOKEN_SCOPE

from bodhi_devstack.stack import HOST, Stack

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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
