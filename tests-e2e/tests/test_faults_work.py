"""Faults while work is in flight (issue #9; reliability-security.md P-, X- tests tagged for
faults): PostgreSQL connections of one service cut under concurrent writes, SIGTERM to the
gateway and to aiproxy-svc during streamed chats, and a provider that stalls mid-stream. In each
case: nothing acknowledged is lost, failures are clean statuses (never a 500), and nothing hangs.
Figures are printed (run with -s), not asserted."""

from __future__ import annotations

import collections
import concurrent.futures
import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from faults_support import faulty_stack, first_admin

from bodhi_devstack.stack import Stack
from bodhi_devstack.upstream import Behaviour, LocalUpstream
from bodhi_e2e.client import BodhiClient

DEADLINE = 10.0  # no request or stream may take longer: a hang fails the test
KEY = "sk-faults-provider-key-0123456789abcdef"
SLOW_CHUNKS = 8  # 8 chunks 0.25 s apart: a 2 s stream, inside the 3 s shutdown grace


@pytest.fixture(scope="module")
def faulty(
    pg_server: str, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A new install with a FaultProxy on every link (the services' PostgreSQL ones here)."""
    with faulty_stack(pg_server, redis_server, tmp_path_factory.mktemp("faults-work")) as stack:
        yield stack


@pytest.fixture(scope="module")
def admin(faulty: Stack) -> Iterator[BodhiClient]:
    with first_admin(faulty) as client:
        yield client


@pytest.fixture(scope="module")
def provider() -> Iterator[LocalUpstream]:
    with LocalUpstream(api_key=KEY, models=["gpt-f"]) as up:
        up.behave("slow-f", Behaviour(chunks=SLOW_CHUNKS, chunk_delay=0.25))
        up.behave("stall-f", Behaviour(chunks=5, stall_after=1))
        yield up


@pytest.fixture(scope="module")
def token(admin: BodhiClient, provider: LocalUpstream) -> str:
    """An API token of a client of the provider, registered as models f/slow-f, f/stall-f."""
    body = {"base_url": provider.url, "api_key": KEY, "models": ["slow-f", "stall-f"]}
    created = admin.http.post("/bodhi/v1/api-models", json=body | {"prefix": "f/"})
    assert created.status_code == 201, created.text
    return admin.create_token("scope_token_user", "fault chats")


def test_postgres_connections_cut_under_writes_lose_nothing_acknowledged(
    faulty: Stack, admin: BodhiClient
) -> None:
    """Expect: 4 clients create API tokens (auth-svc writes to PostgreSQL) while auth-svc's
    connections to PostgreSQL are reset for 0.3 s. Every create is 201 or a clean 503 (no 500,
    no hang); every 201 is in the list afterwards; the pool reconnects by itself (the proxy sees
    new connections) and writes after the heal succeed."""
    proxy = faulty.proxies["auth-db"]
    run = uuid.uuid4().hex[:6]
    results: list[tuple[str, int, str | None]] = []
    acknowledged = threading.Event()

    def write(writer: int) -> None:
        with httpx.Client(
            base_url=faulty.gateway_url, cookies=dict(admin.http.cookies), timeout=DEADLINE
        ) as client:
            for i in range(25):
                name = f"{run}-{writer}-{i}"
                response = client.post(
                    "/bodhi/v1/tokens", json={"name": name, "scope": "scope_token_user"}
                )
                code = None if response.status_code == 201 else response.json()["error"]["code"]
                results.append((name, response.status_code, code))
                if sum(1 for r in results if r[1] == 201) >= 20:
                    acknowledged.set()

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        writers = [pool.submit(write, w) for w in range(4)]
        assert acknowledged.wait(DEADLINE)
        connections = proxy.accepted
        proxy.reset()
        time.sleep(0.3)
        proxy.heal()
        for done in writers:
            done.result(timeout=60)
    statuses = {status for _, status, _ in results}
    failed = [(status, code) for _, status, code in results if status != 201]
    print(f"\n{len(results)} writes, {len(results) - len(failed)} acknowledged; failed: ", end="")
    print(dict(collections.Counter(failed)))
    assert statuses <= {201, 503}, failed
    assert {code for _, code in failed} <= {"database_unavailable"}
    after = [admin.create_token("scope_token_user", f"{run}-after-{i}") for i in range(3)]
    assert len(after) == 3
    assert proxy.accepted > connections  # the pool opened new connections after the cut
    present = {t["name"] for t in _all_tokens(admin) if t["name"].startswith(run)}
    acked = {name for name, status, _ in results if status == 201}
    assert acked <= present  # nothing acknowledged was lost
    assert present - acked <= {name for name, status, _ in results if status == 503} | {
        f"{run}-after-{i}" for i in range(3)
    }  # a 503 may still have committed (the answer was lost), nothing else appears


def _all_tokens(client: BodhiClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in range(1, 100):
        response = client.http.get("/bodhi/v1/tokens", params={"page": page, "page_size": 100})
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        found += data
        if len(data) < 100:
            return found
    raise AssertionError("too many pages")


class Stream:
    """One streamed chat in a thread: its status, content events, end and any error."""

    def __init__(self, stack: Stack, token: str, model: str) -> None:
        self.started = threading.Event()
        self.status = 0
        self.contents: list[str] = []
        self.events: list[str] = []
        self.done = False
        self._args = stack.gateway_url, token, model
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        url, token, model = self._args
        body = {
            "model": model,
            "messages": [{"role": "user", "content": "hello there, faults"}],
            "stream": True,
        }
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream(
            "POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=DEADLINE
        ) as response:
            self.status = response.status_code
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                self.started.set()
                self.events.append(line[6:])
                if line == "data: [DONE]":
                    self.done = True
                else:
                    choices = json.loads(line[6:]).get("choices") or [{}]
                    self.contents.append(choices[0].get("delta", {}).get("content") or "")
        self.started.set()

    def join(self) -> None:
        self._thread.join(DEADLINE + 5)
        assert not self._thread.is_alive(), "the stream hung"


def test_a_provider_that_stalls_mid_stream_ends_it_with_an_error_event(
    faulty: Stack, token: str, provider: LocalUpstream
) -> None:
    """Expect: a provider that sends one chunk and then nothing: aiproxy-svc's read timeout
    (BODHI_UPSTREAM_READ_TIMEOUT_SECONDS=2) ends the stream with an `upstream_timeout` error
    event, the client's stream ends (no hang), and the provider sees its connection closed."""
    started = time.monotonic()
    stream = Stream(faulty, token, "f/stall-f")
    stream.join()
    print(f"\nstalled provider: stream ended after {time.monotonic() - started:.1f} s")
    assert stream.status == 200
    assert len(stream.events) >= 2  # what came before the stall was relayed
    assert json.loads(stream.events[-1])["error"]["code"] == "upstream_timeout"
    record = next(r for r in reversed(provider.requests) if r.json["model"] == "stall-f")
    assert provider.wait_closed(record, DEADLINE) is not None, "the provider request lingers"


@pytest.mark.parametrize("name", ["aiproxy", "gateway"])
def test_sigterm_lets_streams_in_flight_finish(faulty: Stack, token: str, name: str) -> None:
    """Expect: SIGTERM to aiproxy-svc or to the gateway while three 2 s streams are in flight:
    each stream completes, every chunk and [DONE], with 200 (the grace is 3 s); the process
    then exits by itself (not killed); started again, it serves."""
    streams = [Stream(faulty, token, "f/slow-f") for _ in range(3)]
    for stream in streams:
        assert stream.started.wait(DEADLINE)
    child = faulty.children[name]
    signalled = time.monotonic()
    child.send_signal(signal.SIGTERM)
    for stream in streams:
        stream.join()
    print(f"\nSIGTERM {name}: streams done {time.monotonic() - signalled:.1f} s after the signal")
    for stream in streams:
        assert stream.status == 200
        assert stream.done, stream.events[-1:]
        assert sum(1 for c in stream.contents if c) == SLOW_CHUNKS
    deadline = time.monotonic() + DEADLINE
    while child.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    # It ended by itself: 0 for a service, -SIGTERM for the gateway (uvicorn re-raises the
    # signal after its graceful shutdown, as a process killed by it would report).
    assert child.returncode in (0, -signal.SIGTERM), child.tail()
    faulty.restart(name)
    with BodhiClient(faulty.gateway_url) as anyone:
        assert anyone.wait_until(ready=True).status_code == 200
    again = Stream(faulty, token, "f/slow-f")
    again.join()
    assert (again.status, again.done) == (200, True)
