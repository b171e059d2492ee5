"""The soak's traffic (soak.py): each kind of request sent on a wall-clock schedule at its own
rate, every outcome recorded with the time it happened, so the report can tell errors inside a
fault window from errors in steady state, and count the writes the API acknowledged.

Outcome classes: `ok` (2xx and, for streams, a stream that ended with [DONE]), `4xx <code>`,
`5xx <status> <code>`, `stream error event` (a 200 stream that ended with an error event: the
clean end a failure after the headers gets), `transport <Exception>` (refused, reset) and
`timeout` (no answer within CLIENT_TIMEOUT: the hang the faults must never cause).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
import msgspec

CLIENT_TIMEOUT = 20.0
Outcome = tuple[float, float, str]  # (sent at, seconds to the outcome, class)


class Recorder:
    """Outcomes per kind, the write names the API acknowledged and the pulls it accepted."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.outcomes: dict[str, list[Outcome]] = {}
        self.acked_writes: set[str] = set()
        self.unanswered_writes: set[str] = set()  # indeterminate: no answer, may or may not exist
        self.pulls: list[str] = []

    def add(self, kind: str, sent: float, cls: str) -> None:
        entry = (sent - self.start, time.perf_counter() - sent, cls)
        self.outcomes.setdefault(kind, []).append(entry)


def classify(response: httpx.Response) -> str:
    if response.is_success:
        return "ok"
    try:  # our envelope {"error": {"code"}}, or Ollama's {"error": "...", "code"}
        body = response.json()
        error = body.get("error")
        code = str(error.get("code", "") if isinstance(error, dict) else body.get("code", ""))
    except (ValueError, AttributeError):
        code = "non-JSON body"
    return f"{response.status_code // 100}xx {response.status_code} {code}".rstrip()


async def attempt(rec: Recorder, kind: str, call: Callable[[], Awaitable[str]]) -> str:
    sent = time.perf_counter()
    try:
        cls = await asyncio.wait_for(call(), CLIENT_TIMEOUT)
    except (TimeoutError, httpx.TimeoutException):
        cls = "timeout"
    except httpx.HTTPError as err:
        cls = f"transport {type(err).__name__}"
    rec.add(kind, sent, cls)
    return cls


async def schedule(
    rate: float,
    until: float,
    fire: Callable[[int], Coroutine[Any, Any, None]],
    tasks: set[asyncio.Task[None]],
) -> None:
    """Start fire(i) at start + i / rate (open loop: a slow answer does not delay the next)."""
    loop = asyncio.get_running_loop()
    start, i = time.perf_counter(), 0
    while True:
        due = start + i / rate
        if due >= until:
            return
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        task = loop.create_task(fire(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1


class Traffic:
    """The requests of each kind, over one client with a session cookie and one API token."""

    def __init__(self, http: httpx.AsyncClient, token: str, rec: Recorder) -> None:
        self.http, self.rec = http, rec
        self.bearer = {"Authorization": f"Bearer {token}"}

    async def chat(self, _: int) -> None:
        body = {"model": "gpt-bench", "messages": [{"role": "user", "content": "hi"}]}

        async def call() -> str:
            r = await self.http.post("/v1/chat/completions", json=body, headers=self.bearer)
            return classify(r)

        await attempt(self.rec, "chat (bearer)", call)

    async def stream(self, _: int) -> None:
        body = {
            "model": "gpt-stream",
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }

        async def call() -> str:
            req = self.http.build_request(
                "POST", "/v1/chat/completions", json=body, headers=self.bearer
            )
            r = await self.http.send(req, stream=True)
            try:
                if r.status_code != 200:
                    await r.aread()
                    return classify(r)
                last = b""
                async for line in r.aiter_lines():
                    if line.startswith("data: "):
                        last = line[6:].encode()
                if last == b"[DONE]":
                    return "ok"
                return "stream error event" if b'"error"' in last else "stream cut"
            finally:
                await r.aclose()

        await attempt(self.rec, "stream (bearer)", call)

    async def models(self, _: int) -> None:
        async def call() -> str:
            return classify(await self.http.get("/v1/models", headers=self.bearer))

        await attempt(self.rec, "models (bearer)", call)

    async def user(self, _: int) -> None:
        async def call() -> str:
            r = await self.http.get("/bodhi/v1/user")
            if r.is_success and r.json().get("auth_status") != "logged_in":
                return "session answered as logged out"  # a fail-open: must never happen
            return classify(r)

        await attempt(self.rec, "user (session)", call)

    async def write(self, i: int) -> None:
        name = f"soak-{i}"

        async def call() -> str:
            r = await self.http.post(
                "/bodhi/v1/tokens", json={"name": name, "scope": "scope_token_user"}
            )
            if r.status_code == 201:
                self.rec.acked_writes.add(name)
            return classify(r)

        cls = await attempt(self.rec, "token create (session write)", call)
        if cls == "timeout" or cls.startswith("transport"):
            self.rec.unanswered_writes.add(name)

    async def pull(self, i: int, repo: str, filename: str) -> None:
        async def call() -> str:
            r = await self.http.post(
                "/bodhi/v1/modelfiles/pull", json={"repo": repo, "filename": filename}
            )
            if r.status_code in (200, 201):
                self.rec.pulls.append(msgspec.json.decode(r.content)["id"])
            return classify(r)

        await attempt(self.rec, "pull (session write)", call)
