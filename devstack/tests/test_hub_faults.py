"""The local Hub's fault modes, seen by a real client (httpx): truncation, flipped bytes, stalls,
throttling, busy answers, CDN redirects and resets."""

from __future__ import annotations

import asyncio
import hashlib
import time

import httpx
import pytest
from hub_support import TOKEN, fresh, received_until_error, url

from bodhi_devstack.hub import LocalHub
from bodhi_devstack.hub_files import BLOCK

# --- fault modes ---------------------------------------------------------------------------------


def test_truncate_cuts_once_then_a_resume_completes(hub: LocalHub, client: httpx.Client) -> None:
    f = hub.add_file(fresh(), "w.bin", size=2 * BLOCK, seed=1)
    cut = BLOCK + 4321
    hub.fault(f.repo, f.filename, truncate_at=cut)
    got, error = received_until_error(client, url(hub, f))
    assert isinstance(error, httpx.RemoteProtocolError)
    assert got == hub.read(f.repo, f.filename, 0, cut)
    rest = client.get(url(hub, f), headers={"Range": f"bytes={len(got)}-"})
    assert rest.status_code == 206
    assert hashlib.sha256(got + rest.content).hexdigest() == f.sha256
    assert client.get(url(hub, f)).content == hub.read(f.repo, f.filename)
    assert [(r.range, r.bytes_sent) for r in hub.requests(f.repo, f.filename)] == [
        (None, cut),
        (f"bytes={cut}-", f.size - cut),
        (None, f.size),
    ]
    hub.fault(f.repo, f.filename, truncate_at=100, times=2)
    for _ in range(2):
        assert len(received_until_error(client, url(hub, f))[0]) == 100
    assert len(client.get(url(hub, f)).content) == f.size


def test_flip_byte_corrupts_every_body_that_covers_it(hub: LocalHub, client: httpx.Client) -> None:
    f = hub.add_file(fresh(), "w.bin", size=BLOCK + 10, seed=2)
    whole = hub.read(f.repo, f.filename)
    hub.fault(f.repo, f.filename, flip_byte=BLOCK + 3)
    for _ in range(2):
        body = client.get(url(hub, f)).content
        assert len(body) == f.size
        assert [i for i in range(len(body)) if body[i] != whole[i]] == [BLOCK + 3]
        assert body[BLOCK + 3] == whole[BLOCK + 3] ^ 0xFF
    tail = client.get(url(hub, f), headers={"Range": f"bytes={BLOCK}-"}).content
    assert tail[3] != whole[BLOCK + 3]
    assert client.get(url(hub, f), headers={"Range": "bytes=0-99"}).content == whole[:100]
    hub.fault(f.repo, f.filename)
    assert client.get(url(hub, f)).content == whole


def test_stall_pauses_once_at_the_offset(hub: LocalHub) -> None:
    f = hub.add_file(fresh(), "w.bin", size=BLOCK, seed=3)
    at = 300_000
    hub.fault(f.repo, f.filename, stall_at=at, stall_seconds=0.4, times=2)
    with httpx.Client(timeout=httpx.Timeout(5, read=0.15)) as impatient:
        got, error = received_until_error(impatient, url(hub, f))
    assert isinstance(error, httpx.ReadTimeout)
    assert len(got) == at
    with httpx.Client(timeout=5) as patient:
        arrivals: list[tuple[int, float]] = []
        with patient.stream("GET", url(hub, f)) as response:
            total = 0
            for chunk in response.iter_raw():
                total += len(chunk)
                arrivals.append((total, time.perf_counter()))
        assert total == f.size
        before = max(t for n, t in arrivals if n <= at)
        after = min(t for n, t in arrivals if n > at)
        assert after - before >= 0.35
        began = time.perf_counter()
        assert len(patient.get(url(hub, f)).content) == f.size  # the budget is spent
        assert time.perf_counter() - began < 0.3
    assert [r.bytes_sent for r in hub.requests(f.repo, f.filename)] == [at, f.size, f.size]


async def test_throttle_paces_each_connection(hub: LocalHub) -> None:
    f = hub.add_file(fresh(), "w.bin", size=2_000_000, seed=4)
    rate = 2_000_000
    hub.fault(f.repo, f.filename, throttle=rate)
    async with httpx.AsyncClient(timeout=10) as client:
        began = time.perf_counter()
        single = await client.get(url(hub, f))
        single_seconds = time.perf_counter() - began
        assert single.content == hub.read(f.repo, f.filename)
        quarter = f.size // 4
        began = time.perf_counter()
        parts = await asyncio.gather(
            *(
                client.get(url(hub, f), headers={"Range": f"bytes={i}-{i + quarter - 1}"})
                for i in range(0, f.size, quarter)
            )
        )
        parallel_seconds = time.perf_counter() - began
    assert b"".join(p.content for p in parts) == single.content
    # The first chunk (~1/20 s worth) leaves at once, the rest at the rate.
    assert 0.8 <= single_seconds <= 2.0
    assert parallel_seconds < single_seconds / 2


def test_status_fault_with_retry_after(hub: LocalHub, client: httpx.Client) -> None:
    f = hub.add_file(fresh(), "w.bin", data=b"payload")
    hub.fault(f.repo, f.filename, status=503, times=2, retry_after=1.5)
    assert client.head(url(hub, f)).status_code == 200  # GETs only, unless head=True
    for _ in range(2):
        refused = client.get(url(hub, f))
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1.5"
    assert client.get(url(hub, f)).content == b"payload"
    hub.fault(f.repo, f.filename, status=429, retry_after=2, head=True)
    limited = client.head(url(hub, f))
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "2")
    assert client.get(url(hub, f)).status_code == 200


def test_redirect_sends_metadata_and_the_cdn_serves_ranges(
    hub: LocalHub, client: httpx.Client
) -> None:
    f = hub.add_file(fresh(), "w.bin", size=5000, seed=6)
    hub.fault(f.repo, f.filename, redirect=True, flip_byte=10)
    head = client.head(url(hub, f))
    assert head.status_code == 302
    location = head.headers["location"]
    assert location.startswith(hub.cdn_url + "/")
    assert head.headers["x-linked-etag"] == f'"{f.sha256}"'
    assert head.headers["x-linked-size"] == str(f.size)
    assert head.headers["x-repo-commit"] == f.commit
    followed = client.get(
        url(hub, f), headers={"Authorization": f"Bearer {TOKEN}"}, follow_redirects=True
    )
    assert followed.status_code == 200
    assert str(followed.url) == location
    assert followed.content[10] != hub.read(f.repo, f.filename)[10]  # other faults apply there
    ranged = client.get(location, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206
    assert ranged.content == hub.read(f.repo, f.filename, 100, 200)
    cdn = [r for r in hub.requests(f.repo, f.filename) if r.cdn]
    assert [(r.status, r.authorized, r.bytes_sent) for r in cdn] == [
        (200, False, f.size),
        (206, False, 100),
    ]


def test_reset_before_headers(hub: LocalHub, client: httpx.Client) -> None:
    f = hub.add_file(fresh(), "w.bin", data=b"payload")
    hub.fault(f.repo, f.filename, reset_before_headers=True, times=2)
    assert client.head(url(hub, f)).status_code == 200
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            client.get(url(hub, f))
    assert client.get(url(hub, f)).content == b"payload"
    assert [(r.method, r.status) for r in hub.requests(f.repo, f.filename)] == [
        ("HEAD", 200),
        ("GET", 0),
        ("GET", 0),
        ("GET", 200),
    ]


def test_fault_arguments_are_checked(hub: LocalHub) -> None:
    f = hub.add_file(fresh(), "w.bin", data=b"x")
    with pytest.raises(KeyError):
        hub.fault(f.repo, "other.bin", truncate_at=1)
    with pytest.raises(TypeError):
        hub.fault(f.repo, f.filename, truncate=1)
    with pytest.raises(ValueError, match="stall_seconds"):
        hub.fault(f.repo, f.filename, stall_at=1)
