"""probe: what the Hub says about a file, and the error each refusal becomes."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest
from downloader_support import (
    HUB_TOKEN,
    MiB,
    gets,
    home,
    http,
    hub,
    pull,
    remote_of,
    sha256_of,
)
from multidict import CIMultiDict

from bodhi_common.clock import ManualClock
from bodhi_common.errors import NotFound, PermissionDenied, Unavailable
from bodhi_devstack.hub import LocalHub
from model_svc.downloader import probe
from model_svc.downloader.remote import retry_after

__all__ = ["home", "http", "hub"]


async def test_probe_reads_the_metadata_an_lfs_file_has_on_the_hub(
    http: aiohttp.ClientSession, hub: LocalHub
) -> None:
    f = hub.add_gguf("acme/tiny-GGUF", "tiny.Q4_K_M.gguf", pad_to=MiB)

    remote = await remote_of(http, hub, f)

    assert (remote.size, remote.sha256, remote.etag) == (f.size, f.sha256, f.sha256)
    assert remote.commit == f.commit
    assert remote.accept_ranges
    assert remote.send_token
    assert [r.method for r in hub.requests(f.repo, f.filename)] == ["HEAD"]


async def test_a_redirect_to_a_cdn_keeps_the_metadata_and_never_gets_the_token(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/cdn", "model.gguf", size=2 * MiB, seed=3)
    hub.fault(f.repo, f.filename, redirect=True)

    remote = await remote_of(http, hub, f, HUB_TOKEN)
    placed = await pull(http, hub, f, home, token=HUB_TOKEN)

    assert remote.url.startswith(hub.cdn_url)
    assert not remote.send_token
    assert (remote.commit, remote.sha256, remote.size) == (f.commit, f.sha256, f.size)
    assert sha256_of(placed) == f.sha256
    requests = hub.requests(f.repo, f.filename)
    cdn = [r for r in requests if r.cdn]
    assert cdn
    assert not any(r.authorized for r in cdn)
    assert all(r.authorized for r in requests if not r.cdn)
    assert all(r.cdn for r in gets(hub, f))


async def test_a_gated_file_needs_an_accepted_token(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/gated", "model.gguf", size=MiB, gated=True)

    for token in (None, "hf_not_on_the_list"):
        with pytest.raises(PermissionDenied) as caught:
            await remote_of(http, hub, f, token)
        assert caught.value.code == "hub_gated_access"
        assert "acme/gated" in caught.value.message
        assert "hf_not_on_the_list" not in caught.value.message
    placed = await pull(http, hub, f, home, token=HUB_TOKEN)

    assert sha256_of(placed) == f.sha256
    assert all(r.authorized for r in gets(hub, f))


async def test_a_missing_repo_and_a_missing_file_have_their_own_codes(
    http: aiohttp.ClientSession, hub: LocalHub
) -> None:
    hub.add_file("acme/present", "model.gguf", data=b"gguf")

    with pytest.raises(NotFound) as no_repo:
        await probe(
            http,
            endpoint=hub.url,
            repo="acme/absent",
            filename="model.gguf",
            revision="main",
            token=None,
        )
    with pytest.raises(NotFound) as no_file:
        await probe(
            http,
            endpoint=hub.url,
            repo="acme/present",
            filename="other.gguf",
            revision="main",
            token=None,
        )

    assert no_repo.value.code == "hub_repo_not_found"
    assert "acme/absent" in no_repo.value.message
    assert no_file.value.code == "hub_file_not_found"
    assert "other.gguf" in no_file.value.message


async def test_a_busy_or_unreachable_hub_is_unavailable(
    http: aiohttp.ClientSession, hub: LocalHub
) -> None:
    f = hub.add_file("acme/busy", "model.gguf", data=b"gguf")
    hub.fault(f.repo, f.filename, status=503, head=True)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"

    with pytest.raises(Unavailable) as busy:
        await remote_of(http, hub, f)
    with pytest.raises(Unavailable) as down:
        await probe(
            http, endpoint=closed, repo=f.repo, filename=f.filename, revision="main", token=None
        )

    assert busy.value.code == down.value.code == "hub_unavailable"


async def test_a_plain_git_file_is_verified_by_its_git_blob_id(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    data = b'{"architectures": ["LlamaForCausalLM"]}\n'
    f = hub.add_file("acme/tiny-GGUF", "config.json", data=data, lfs=False)

    remote = await remote_of(http, hub, f)
    placed = await pull(http, hub, f, home)

    assert remote.sha256 is None
    assert remote.etag == f.git_oid
    assert placed.read_bytes() == data
    assert placed.resolve().name == f.git_oid


def test_retry_after_is_read_as_seconds_or_as_a_date_on_the_injected_clock() -> None:
    clock = ManualClock(start=1_445_412_480.0)  # Wed, 21 Oct 2015 07:28:00 GMT

    def asked(value: str) -> float | None:
        return retry_after(CIMultiDict({"retry-after": value}), clock)

    assert asked("120") == 120.0
    assert asked("0.5") == 0.5
    assert asked("Wed, 21 Oct 2015 07:30:00 GMT") == 120.0
    clock.advance(60)
    assert asked("Wed, 21 Oct 2015 07:30:00 GMT") == 60.0
    assert asked("Wed, 21 Oct 2015 07:00:00 GMT") == 0.0
    assert asked("soon") is None
