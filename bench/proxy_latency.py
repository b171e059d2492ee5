"""c=1 figures of the proxy benchmark (proxy.py): P1, a small non-streaming chat on one keep-alive
connection per peer, in interleaved rounds with a rotating order; and P4's paced streams, time to
the first event and the gaps between events, also interleaved."""

from __future__ import annotations

import statistics
import time
from typing import Any

import msgspec
from benchkit import added, ms, summarize
from proxy_http import OVERHEAD, Conn, Events, Target
from proxy_stack import BEHAVIOURS, cpu

CHAT: dict[str, object] = {
    "model": "gpt-bench",
    "messages": [{"role": "user", "content": "Say hello in five words."}],
    "max_tokens": 16,
}
PACED_TEXT = "Count: " + " ".join(f"t{i:02d}" for i in range(40))
PACED: dict[str, object] = {
    "model": "gpt-stream",
    "stream": True,
    "messages": [{"role": "user", "content": PACED_TEXT}],
}
PACED_CHUNKS = BEHAVIOURS["gpt-stream"].chunks


def rotate(names: list[str], r: int) -> list[str]:
    return names[r % len(names) :] + names[: r % len(names)]


class Peers:
    """One keep-alive connection per peer, reopened if a server closes it."""

    def __init__(self, targets: dict[str, Target], procs: dict[str, list[int]]) -> None:
        self.targets = targets
        self.procs = procs
        self.conns = {name: Conn(t.host, t.port) for name, t in targets.items()}

    def request(self, name: str, raw: bytes) -> tuple[float, int, dict[bytes, bytes], bytes]:
        started = time.perf_counter()
        try:
            status, headers, body = self.conns[name].request(raw)
        except OSError:
            self.reopen(name)
            return (time.perf_counter() - started) * 1000, 0, {}, b""
        return (time.perf_counter() - started) * 1000, status, headers, body

    def refresh(self, name: str, raw: bytes) -> None:
        """One untimed request before a peer's turn: a connection idle past the server's
        keep-alive timeout (another peer's turn can take longer) is replaced first."""
        _, status, _, _ = self.request(name, raw)
        if status == 0:
            self.request(name, raw)

    def stream(self, name: str, raw: bytes) -> Events | None:
        try:
            return self.conns[name].stream(raw)
        except OSError:
            self.reopen(name)
            return None

    def reopen(self, name: str) -> None:
        self.conns[name].close()
        target = self.targets[name]
        self.conns[name] = Conn(target.host, target.port)

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


def warm_up(peers: Peers, count: int) -> None:
    for name, target in peers.targets.items():
        raw = target.chat(CHAT)
        for _ in range(count):
            _, status, _, body = peers.request(name, raw)
            if status != 200:
                raise RuntimeError(f"warm-up {name}: {status} {body[:300]!r}")


def chat_rounds(peers: Peers, rounds: int, per_round: int, gap: float) -> dict[str, Any]:
    """P1: interleaved rounds; per peer latency, errors, the gateway's own overhead header and
    the CPU its processes spent per request."""
    names = list(peers.targets)
    raws = {name: t.chat(CHAT) for name, t in peers.targets.items()}
    samples: dict[str, list[list[float]]] = {name: [] for name in names}
    errors = dict.fromkeys(names, 0)
    cpu_s = dict.fromkeys(names, 0.0)
    overheads: list[float] = []
    for r in range(rounds):
        for name in rotate(names, r):
            latencies: list[float] = []
            peers.refresh(name, raws[name])
            before = cpu(peers.procs[name])
            for _ in range(per_round):
                if gap:
                    time.sleep(gap)
                latency, status, headers, body = peers.request(name, raws[name])
                if status == 200 and b"chat.completion" in body:
                    latencies.append(latency)
                else:
                    errors[name] += 1
                if OVERHEAD in headers:
                    overheads.append(float(headers[OVERHEAD]))
            cpu_s[name] += cpu(peers.procs[name]) - before
            samples[name].append(latencies)
    out: dict[str, Any] = {}
    for name in names:
        out[name] = summarize(samples[name]) | {
            "errors": errors[name],
            "cpu_ms_per_request": ms(cpu_s[name] * 1000 / (rounds * per_round)),
        }
        if name != "direct":
            out[f"{name}_added"] = added(samples["direct"], samples[name])
    if overheads:
        out["gateway"]["own_overhead_header_p50_ms"] = ms(statistics.median(overheads))
    if "gateway_added" in out and "litellm_added" in out:
        g, lite = out["gateway_added"], out["litellm_added"]
        out["ratio_gateway_to_litellm_added"] = {
            key: round(g[key] / lite[key], 3) if lite[key] > 0 else None
            for key in ("p50_ms", "p99_ms")
        }
    return out


def _content(payload: bytes) -> str | None:
    """The delta content of one chat.completion.chunk (None for other events)."""
    if payload == b"[DONE]":
        return None
    try:
        event = msgspec.json.decode(payload)
        choices = event.get("choices") or []
        value = choices[0].get("delta", {}).get("content") if choices else None
    except (msgspec.DecodeError, AttributeError, IndexError):
        return None
    return value if isinstance(value, str) and value else None


def read_stream(events: Events) -> tuple[list[int], str, bool]:
    """Indexes of the content events, their text joined, and whether [DONE] arrived."""
    indexes, text = [], []
    for i, payload in enumerate(events.payloads):
        piece = _content(payload)
        if piece is not None:
            indexes.append(i)
            text.append(piece)
    return indexes, "".join(text), bool(events.payloads) and events.payloads[-1] == b"[DONE]"


def paced_rounds(peers: Peers, rounds: int, per_round: int, expected: str) -> dict[str, Any]:
    """P4 at c=1: streams of PACED_CHUNKS content events 5 ms apart; TTFB = request sent to the
    first event; a gap = the time between a content event and the event before it; coalesced =
    content events that arrived in the same read as the event before them."""
    names = list(peers.targets)
    raws = {name: t.chat(PACED) for name, t in peers.targets.items()}
    ttfb: dict[str, list[list[float]]] = {n: [] for n in names}
    gaps: dict[str, list[list[float]]] = {n: [] for n in names}
    tally = {n: {"streams": 0, "failed": 0, "content_events": 0, "coalesced": 0, "wrong_text": 0}
             for n in names}  # fmt: skip
    for r in range(rounds):
        for name in rotate(names, r):
            firsts: list[float] = []
            spaces: list[float] = []
            peers.refresh(name, peers.targets[name].chat(CHAT))
            for _ in range(per_round):
                got = peers.stream(name, raws[name])
                count = tally[name]
                count["streams"] += 1
                if got is None or got.status != 200 or not got.times:
                    count["failed"] += 1
                    continue
                indexes, text, _ = read_stream(got)
                firsts.append((got.times[0] - got.sent) * 1000)
                count["content_events"] += len(indexes)
                count["wrong_text"] += text != expected
                for i in indexes:
                    if i > 0:
                        spaces.append((got.times[i] - got.times[i - 1]) * 1000)
                        count["coalesced"] += got.reads[i] == got.reads[i - 1]
            ttfb[name].append(firsts)
            gaps[name].append(spaces)
    out: dict[str, Any] = {"chunks_sent_per_stream": PACED_CHUNKS}
    for name in names:
        out[name] = tally[name] | {"ttfb": summarize(ttfb[name]), "gap": summarize(gaps[name])}
        if name != "direct":
            out[f"{name}_added"] = {
                "ttfb": added(ttfb["direct"], ttfb[name]),
                "gap": added(gaps["direct"], gaps[name]),
            }
    return out
