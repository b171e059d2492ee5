"""Per-request context carried in contextvars: the request id and who is calling.

The gateway sets the request id for each HTTP request; gRPC metadata carries it to every service,
whose interceptor sets it again, so that each log line of one request shares one id.
"""

from __future__ import annotations

import contextvars
import re
import secrets

import msgspec

REQUEST_ID_KEY = "x-request-id"
ADMIN_ROLE = "resource_admin"  # the role of a server's admins (auth-svc's roles, reference §6.5)

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "bodhi_request_id", default=None
)


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The person or token a call acts for, as asserted by the calling service."""

    sub: str
    role: str | None = None
    scope: str | None = None


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """The verified identity of an internal call: which service, on behalf of whom."""

    service: str
    principal: Principal | None = None


caller_var: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "bodhi_caller", default=None
)


def new_request_id() -> str:
    """A fresh, URL-safe request id."""
    return secrets.token_hex(8)


def accept_request_id(value: str | None) -> str:
    """The client's request id when it is short and plain; otherwise a fresh one.

    Anything else is replaced rather than echoed, so a client cannot inject text into logs.
    """
    if value is not None and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


def current_caller() -> Caller:
    """The verified caller of the current RPC (set by the server interceptor)."""
    caller = caller_var.get()
    if caller is None:
        raise RuntimeError("no verified caller in this context")
    return caller
