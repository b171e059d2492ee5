"""ASGI middleware that runs before routing: the request id of every request."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from bodhi_common.context import REQUEST_ID_KEY, accept_request_id, request_id_var

_HEADER = REQUEST_ID_KEY.encode()


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Take the client's x-request-id when it is plain (else make one), expose it to every log
    line and gRPC call of this request, and echo it on the response."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        supplied = next((v for k, v in scope["headers"] if k == _HEADER), None)
        request_id = accept_request_id(supplied.decode("latin-1") if supplied else None)
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)

    return middleware
