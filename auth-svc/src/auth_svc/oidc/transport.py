"""HTTP to the provider: bounded JSON bodies, no redirects, and transport faults as Unavailable.

Every call goes through the caller's `httpx.AsyncClient`, so its timeouts and pool apply.
Redirects are never followed: a token request must not carry the client secret anywhere the
provider's metadata did not name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from bodhi_common.errors import Unavailable

#: Discovery documents, key sets and token responses are a few KiB; refuse anything larger.
MAX_BODY = 256 * 1024

_ERROR_CODE = re.compile(r"[a-z_]{1,40}")
# A run of 16+ characters from the token / base64 alphabets with a digit or an upper-case letter
# looks like a credential (random strings have both; "authorization_code" has neither): a
# description carrying one is dropped rather than risk echoing a code, token or secret.
_RUN = re.compile(r"[A-Za-z0-9_\-.~+/=]{16,}")
_RANDOM_LOOKING = re.compile(r"[0-9A-Z]")
_MAX_DESCRIPTION = 120


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """A provider answer: HTTP status and its JSON object body (empty when not JSON)."""

    status: int
    body: dict[str, Any]


def unavailable(what: str) -> Unavailable:
    """The one error for a provider that cannot be reached or answers nonsense."""
    return Unavailable(
        f"the identity provider is unavailable ({what})", code="provider_unavailable"
    )


async def request(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    data: Mapping[str, str] | None = None,
    json: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
) -> Reply:
    """Send one request; 5xx, 429, timeouts and transport errors raise Unavailable."""
    try:
        async with http.stream(
            method,
            url,
            data=data,
            json=json,
            headers={"Accept": "application/json", **(headers or {})},
            auth=auth,
            follow_redirects=False,
        ) as response:
            raw = await _read_bounded(response, what)
    except httpx.TimeoutException as exc:
        raise unavailable(f"{what}: timed out") from exc
    except httpx.HTTPError as exc:
        raise unavailable(f"{what}: {type(exc).__name__}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise unavailable(f"{what}: HTTP {response.status_code}")
    return Reply(status=response.status_code, body=_json_object(raw))


async def get_json(http: httpx.AsyncClient, url: str, *, what: str) -> dict[str, Any]:
    """GET a JSON object that must come with 200 (discovery, JWKS)."""
    reply = await request(http, "GET", url, what=what)
    if reply.status != 200 or not reply.body:
        raise unavailable(f"{what}: HTTP {reply.status}")
    return reply.body


async def _read_bounded(response: httpx.Response, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY:
            raise unavailable(f"{what}: response too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def provider_error(body: Mapping[str, Any], *, sent: tuple[str, ...] = ()) -> str:
    """The provider's `error` (and a short, harmless `error_description`) for a message.

    `sent` holds the credentials of the request: a description that repeats one is dropped.
    """
    error = body.get("error")
    if not isinstance(error, str) or not _ERROR_CODE.fullmatch(error):
        return "refused"
    description = body.get("error_description")
    if _harmless(description, sent):
        return f"{error}: {description}"
    return error


def _harmless(text: object, sent: tuple[str, ...]) -> bool:
    if not isinstance(text, str) or not 0 < len(text) <= _MAX_DESCRIPTION:
        return False
    if not text.isascii() or not text.isprintable():
        return False
    if any(_RANDOM_LOOKING.search(run) for run in _RUN.findall(text)):
        return False
    return not any(secret and secret in text for secret in sent)
