"""What the local-Hub tests share: the test token, fresh repo ids, URLs and cache paths."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx

from bodhi_devstack.hub import HubFile, LocalHub

TOKEN = "hf_test_token"
_names = itertools.count()


def fresh(stem: str = "model") -> str:
    """A repo id no other test uses."""
    return f"acme/{stem}-{next(_names)}"


def fresh_one_part(stem: str = "gpt") -> str:
    """A one-part repo id (like `gpt2`) no other test uses."""
    return f"{stem}{next(_names)}"


def url(hub: LocalHub, f: HubFile, revision: str | None = None) -> str:
    return f"{hub.url}/{f.repo}/resolve/{revision or f.revision}/{f.filename}"


def storage(cache: Path, repo: str) -> Path:
    return cache / ("models--" + repo.replace("/", "--"))


def received_until_error(client: httpx.Client, target: str) -> tuple[bytes, Exception]:
    """The body bytes that arrived before the transfer failed, and the failure."""
    data = bytearray()
    try:
        with client.stream("GET", target) as response:
            for chunk in response.iter_raw():
                data += chunk
    except httpx.TransportError as exc:
        return bytes(data), exc
    raise AssertionError(f"no error after {len(data)} bytes")
