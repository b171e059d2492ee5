"""What the Hub says about one file (probe), and how its HTTP answers map to our errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urljoin, urlsplit

import aiohttp
import msgspec
from yarl import URL

from bodhi_common.clock import Clock
from bodhi_common.errors import NotFound, PermissionDenied, ServiceError, Unavailable

_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_ETAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")  # it names a file in blobs/
_SENDABLE = re.compile(r"[\x21-\x7e]+")  # a URL that can go on the wire as it is
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
_USER_AGENT = "bodhi-model-svc"


class RemoteFile(msgspec.Struct, frozen=True, kw_only=True):
    """One file of one commit on the Hub, as its HEAD answer described it."""

    repo: str
    filename: str
    url: str  # where the bytes are served, after redirects (may be a CDN: never log it)
    size: int
    sha256: str | None  # the LFS oid when the etag is one: the checksum the bytes must have
    etag: str  # normalised; huggingface_hub names the blob after it
    commit: str
    accept_ranges: bool
    send_token: bool  # `url` is on the Hub's own origin, so the token may go with it


def hub_headers(token: str | None, *, send_token: bool) -> dict[str, str]:
    """Headers for a Hub request; the token only goes to the Hub's own origin."""
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if token and send_token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def request_url(url: str) -> URL:
    """`url` for aiohttp, byte for byte: a signed CDN URL must not be re-quoted (yarl would turn
    `%2F` into `/`); only one that could not be sent as it is gets quoted."""
    return URL(url, encoded=True) if _SENDABLE.fullmatch(url) else URL(url)


def hub_error(
    status: int, headers: Mapping[str, str], repo: str, filename: str
) -> ServiceError | None:
    """The error an unsuccessful Hub answer (its status and case-insensitive headers) means, or
    None for 2xx/3xx."""
    if status < 400:
        return None
    code = headers.get("X-Error-Code", "")
    name = f"{filename} in {repo}"
    if code == "RepoNotFound":
        return NotFound(f"the Hub has no repo {repo} (or it is private)", code="hub_repo_not_found")
    if code == "GatedRepo" or status in (401, 403):
        return PermissionDenied(
            f"the Hub refused access to {name}: the repo is gated or private; "
            "accept its terms on the Hub and set a token that may read it",
            code="hub_gated_access",
        )
    if status == 404:
        return NotFound(f"the Hub has no file {name}", code="hub_file_not_found")
    return Unavailable(f"the Hub answered {status} for {name}", code="hub_unavailable")


def retry_after(headers: Mapping[str, str], clock: Clock) -> float | None:
    """Seconds the server asked us to wait (Retry-After as seconds or an HTTP date)."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))  # delta-seconds (fractions accepted)
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - clock.now())
    except (TypeError, ValueError):
        return None


async def probe(
    http: aiohttp.ClientSession,
    *,
    endpoint: str,
    repo: str,
    filename: str,
    revision: str,
    token: str | None,
) -> RemoteFile:
    """HEAD the file on the Hub: its commit, size, etag/sha256 and where its bytes are."""
    url = f"{endpoint.rstrip('/')}/{repo}/resolve/{quote(revision, safe='')}/{quote(filename)}"
    try:
        meta, final, final_url = await _head_chain(http, url, endpoint, repo, filename, token)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Unavailable(
            f"the Hub could not be reached for {filename} in {repo}", code="hub_unavailable"
        ) from exc
    commit = meta.get("X-Repo-Commit")
    etag = _normalise_etag(meta.get("X-Linked-Etag") or meta.get("ETag"))
    size = _int(meta.get("X-Linked-Size"))
    if size is None:
        size = _int(final.get("Content-Length"))
    if (
        size is None
        or commit is None
        or etag is None
        or not _COMMIT.fullmatch(commit)
        or not _ETAG.fullmatch(etag)
    ):
        raise Unavailable(
            f"the Hub's answer for {filename} in {repo} lacks a usable commit, etag or size",
            code="hub_unavailable",
        )
    return RemoteFile(
        repo=repo,
        filename=filename,
        url=final_url,
        size=size,
        sha256=etag if _SHA256.fullmatch(etag) else None,
        etag=etag,
        commit=commit,
        accept_ranges=final.get("Accept-Ranges", "").lower() == "bytes",
        send_token=_same_origin(final_url, endpoint),
    )


async def _head_chain(
    http: aiohttp.ClientSession,
    url: str,
    endpoint: str,
    repo: str,
    filename: str,
    token: str | None,
) -> tuple[Mapping[str, str], Mapping[str, str], str]:
    """Follow HEAD redirects by hand: the headers of the first answer with X-Repo-Commit, and
    the headers and URL of the last answer."""
    meta: Mapping[str, str] | None = None
    for _ in range(_MAX_REDIRECTS + 1):
        headers = hub_headers(token, send_token=_same_origin(url, endpoint))
        async with http.head(request_url(url), headers=headers, allow_redirects=False) as response:
            status, answer, answered = response.status, response.headers, str(response.url)
        error = hub_error(status, answer, repo, filename)
        if error is not None:
            raise error
        if meta is None and "X-Repo-Commit" in answer:
            meta = answer
        location = answer.get("Location")
        if not (status in _REDIRECTS and location):
            return meta or answer, answer, answered
        url = urljoin(url, location)
    raise Unavailable(f"the Hub redirected {filename} in {repo} too often", code="hub_unavailable")


def _same_origin(url: str, endpoint: str) -> bool:
    a, b = urlsplit(url), urlsplit(endpoint)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _normalise_etag(value: str | None) -> str | None:
    """`W/"abc"` or `"abc"` → `abc`, as huggingface_hub names blobs."""
    if value is None:
        return None
    return value.removeprefix("W/").strip('"') or None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
