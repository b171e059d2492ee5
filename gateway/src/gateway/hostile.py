"""Requests no client of ours sends, refused with a clear 4xx before they reach a handler or a
service: headers past a size, paths with control characters or dot segments, JSON bodies that
are not JSON (wrong content type, invalid UTF-8, nested past any real document's depth).
Body sizes are Litestar's `request_max_body_size` (413, see app.py)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, Scope, Send

from bodhi_common.errors import InvalidArgument

# A control character (NUL included) anywhere, or a `.`/`..` segment: path parameters name
# aliases, ids and repos, never the file system's relative steps. The path is percent-decoded
# by now, so `%2e%2e` and `%00` are caught too.
_BAD_PATH = re.compile(r"[\x00-\x1f\x7f]|/\.\.?(?:/|$)")
_JSON_TYPES = ("application/json",)
ANY_CONTENT_TYPE = "any_content_type"  # handler opt: accept JSON whatever the content type


def request_guard(max_header_bytes: int) -> Any:
    """Route middleware refusing oversize headers (431) and hostile paths (400)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def guard(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP:
                _check(scope, max_header_bytes)
            await app(scope, receive, send)

        return guard

    return middleware


def _check(scope: Scope, max_header_bytes: int) -> None:
    # Every request passes here, chat included: a plain loop and a cheap pre-test keep this
    # under a microsecond (the regex runs only on paths that might hold something).
    size = 0
    for name, value in scope["headers"]:
        size += len(name) + len(value)
    if size > max_header_bytes:
        detail = f"{size} bytes of headers, at most {max_header_bytes}"
        raise HTTPException(status_code=431, detail=detail)
    path: str = scope["path"]
    if ("/." in path or not path.isprintable()) and _BAD_PATH.search(path):
        raise InvalidArgument(
            "the path holds a control character or a dot segment", code="invalid_path"
        )


def not_json(err: UnicodeDecodeError | RecursionError) -> InvalidArgument:
    """What the JSON decoder lets through (beside its own DecodeError), as a clear 400."""
    why = "is not valid UTF-8" if isinstance(err, UnicodeDecodeError) else "is nested too deeply"
    return InvalidArgument(f"the body {why}", code="invalid_json")


class GatewayRequest(Request[Any, Any, Any]):
    """Litestar's request whose JSON body must say it is JSON (a form or text/plain body is
    what a cross-site page can send without asking) and read as JSON."""

    async def json(self) -> Any:
        """The decoded body (the `data` of a handler)."""
        kind = self.headers.get("content-type")
        if kind is not None and not self.route_handler.opt.get(ANY_CONTENT_TYPE):
            media = kind.partition(";")[0].strip().lower()
            if media not in _JSON_TYPES and not media.endswith("+json"):
                raise HTTPException(status_code=415, detail=f"{media}; send application/json")
        try:
            return await super().json()
        except (UnicodeDecodeError, RecursionError) as err:
            raise not_json(err) from None
