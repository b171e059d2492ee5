"""The one error vocabulary: each class is bound to a gRPC status and carries a stable code.

Services raise these; the server interceptor turns them into a status with the code in the
trailing metadata, and the gateway turns that into an HTTP status and the OpenAI-style envelope.
Messages are written for the person who made the request: never put internal detail
(SQL, hostnames, exception text, secrets) into one.
"""

from __future__ import annotations

from typing import ClassVar

import grpc

#: Trailing-metadata keys that carry the stable error code and the offending parameter.
CODE_KEY = "bodhi-error-code"
PARAM_KEY = "bodhi-error-param"


class ServiceError(Exception):
    """Base of every error a client may see; subclasses fix the status and a default code."""

    status: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param


class InvalidArgument(ServiceError):
    """The request is malformed or a value is out of range (HTTP 400)."""

    status = grpc.StatusCode.INVALID_ARGUMENT
    default_code = "invalid_argument"


class FailedPrecondition(ServiceError):
    """The request is valid but the system is not in a state to accept it (HTTP 400)."""

    status = grpc.StatusCode.FAILED_PRECONDITION
    default_code = "failed_precondition"


class NotFound(ServiceError):
    """The named thing does not exist (HTTP 404)."""

    status = grpc.StatusCode.NOT_FOUND
    default_code = "not_found"


class AlreadyExists(ServiceError):
    """A thing with that identity already exists (HTTP 409)."""

    status = grpc.StatusCode.ALREADY_EXISTS
    default_code = "already_exists"


class Conflict(ServiceError):
    """The request conflicts with a concurrent change; retrying may succeed (HTTP 409)."""

    status = grpc.StatusCode.ABORTED
    default_code = "conflict"


class Unauthenticated(ServiceError):
    """No valid credentials came with the request (HTTP 401)."""

    status = grpc.StatusCode.UNAUTHENTICATED
    default_code = "unauthenticated"


class PermissionDenied(ServiceError):
    """The caller is known but not allowed to do this (HTTP 403)."""

    status = grpc.StatusCode.PERMISSION_DENIED
    default_code = "permission_denied"


class ResourceExhausted(ServiceError):
    """A quota or rate limit was hit (HTTP 429)."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_code = "rate_limited"


class Unavailable(ServiceError):
    """A dependency is down or overloaded; retrying later may succeed (HTTP 503)."""

    status = grpc.StatusCode.UNAVAILABLE
    default_code = "service_unavailable"


class DeadlineExceeded(ServiceError):
    """A dependency did not answer in time (HTTP 504)."""

    status = grpc.StatusCode.DEADLINE_EXCEEDED
    default_code = "timeout"


class Cancelled(ServiceError):
    """The caller went away or cancelled the call (HTTP 499)."""

    status = grpc.StatusCode.CANCELLED
    default_code = "request_cancelled"


class Unimplemented(ServiceError):
    """The operation exists in the contract but is not built yet (HTTP 501)."""

    status = grpc.StatusCode.UNIMPLEMENTED
    default_code = "not_implemented"


class DataLoss(ServiceError):
    """Stored data is corrupt or unreadable (HTTP 500); the code says which data."""

    status = grpc.StatusCode.DATA_LOSS
    default_code = "data_loss"


class Internal(ServiceError):
    """Something broke on our side; the message stays generic (HTTP 500)."""

    status = grpc.StatusCode.INTERNAL
    default_code = "internal_error"


class StartupError(Exception):
    """The process cannot start; the message is one line for the operator (not a call's error)."""
