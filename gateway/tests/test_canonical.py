"""The canonical-URL redirect decision (reference §0.4)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.canonical import target

PUBLIC = "https://bodhi.example.com"


def scope(host: str | None, *, scheme: str = "http", method: str = "GET", path: str = "/ui",
          query: bytes = b"", auth: bool = False) -> dict[str, Any]:  # fmt: skip
    headers = [(b"host", host.encode())] if host is not None else []
    if auth:
        headers.append((b"authorization", b"Bearer x"))
    return {"type": "http", "method": method, "path": path, "scheme": scheme,
            "query_string": query, "headers": headers}  # fmt: skip


@pytest.mark.parametrize(
    ("request_scope", "expected"),
    [
        (scope("127.0.0.1:1135", query=b"a=1"), f"{PUBLIC}/ui?a=1"),
        (scope("bodhi.example.com"), f"{PUBLIC}/ui"),  # http, not https
        (scope("bodhi.example.com", scheme="https"), None),
        (scope("BODHI.example.com:443", scheme="https"), None),
        (scope("bodhi.example.com:8443", scheme="https"), f"{PUBLIC}/ui"),
        (scope("bodhi.example.com:x", scheme="https"), f"{PUBLIC}/ui"),
        (scope("other.example.com", method="POST"), None),
        (scope("other.example.com", method="HEAD"), f"{PUBLIC}/ui"),
        (scope("other.example.com", path="/health"), None),
        (scope("other.example.com", path="/ping"), None),
        (scope("other.example.com", auth=True), None),
        (scope(None), None),
    ],
)
def test_redirects(request_scope: dict[str, Any], expected: str | None) -> None:
    assert target(PUBLIC, request_scope) == expected


def test_ipv6_hosts_and_ports() -> None:
    public = "http://[::1]:1135"
    assert target(public, scope("[::1]:1135")) is None
    assert target(public, scope("[::1]:9")) == f"{public}/ui"
