"""The gateway's HTTP API with an API token: JSON in and out, its error envelope and transport
failures turned into CliError with the right exit code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from bodhi_cli.errors import UNREACHABLE, ApiError, CliError, usage

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# A pull's events may pause while the Hub is slow; a chat may think for a while.
STREAM_TIMEOUT = httpx.Timeout(30.0, connect=5.0, read=300.0)
PAGE_SIZE = 100


def api_error(response: httpx.Response) -> ApiError:
    """The error a failed response carries (its envelope, else its status)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return ApiError(str(error["message"]), error.get("code"), response.status_code)
    if isinstance(error, str):  # the Ollama routes' shape
        return ApiError(error, body.get("code"), response.status_code)
    reason = response.reason_phrase or "error"
    return ApiError(f"HTTP {response.status_code} {reason}", None, response.status_code)


class Gateway:
    """A connection pool to one gateway, sending `Authorization: Bearer <token>`."""

    def __init__(self, url: str, token: str, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url
        headers = {"Authorization": f"Bearer {token}", "User-Agent": "bodhi-cli"}
        self._http = httpx.Client(
            base_url=url, headers=headers, timeout=TIMEOUT, transport=transport
        )

    def __repr__(self) -> str:
        return f"Gateway({self.url!r})"

    def close(self) -> None:
        """Close the pool."""
        self._http.close()

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        try:
            yield
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise usage(f"BODHI_URL is not an http(s) URL: {self.url}") from None
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise CliError(f"cannot reach the gateway at {self.url}", UNREACHABLE) from None
        except httpx.TransportError as err:
            message = f"lost the connection to the gateway at {self.url} ({type(err).__name__})"
            raise CliError(message, UNREACHABLE) from None

    def call(self, method: str, path: str, **options: Any) -> Any:
        """One request; its JSON body (None when empty), or ApiError."""
        with self._reaching():
            response = self._http.request(method, path, **options)
        if response.is_error:
            raise api_error(response)
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        """GET with query parameters."""
        return self.call("GET", path, params=params)

    def pages(self, path: str) -> list[dict[str, Any]]:
        """Every item of a paged listing ({"data", "total", "page", "page_size"})."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.get(path, page=page, page_size=PAGE_SIZE)
            items.extend(body["data"])
            if not body["data"] or len(items) >= int(body["total"]):
                return items
            page += 1

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **options: Any) -> Iterator[Iterator[str]]:
        """A streamed answer's lines (server-sent events), or ApiError before the first."""
        with self._reaching():
            request = self._http.build_request(method, path, timeout=STREAM_TIMEOUT, **options)
            response = self._http.send(request, stream=True)
            try:
                if response.is_error:
                    response.read()
                    raise api_error(response)
                yield response.iter_lines()  # read errors surface here, inside _reaching
            finally:
                response.close()
