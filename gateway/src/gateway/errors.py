"""The one place where failures become HTTP responses: gRPC status → HTTP status (the google.rpc
mapping) → the OpenAI-style envelope {"error": {"message", "type", "code", "param"}}, its message
from the catalog in the caller's language (gateway.i18n); the code never changes with it."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from bodhi_common.errors import ServiceError
from gateway.i18n import catalog, negotiate
from gateway.schemas.system import ErrorBody, ErrorEnvelope

log = logging.getLogger(__name__)

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

ERROR_TYPE: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "forbidden_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    431: "invalid_request_error",
    422: "unprocessable_entity_error",
    429: "rate_limit_error",
    499: "cancelled_error",
    501: "not_implemented_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}

# Codes whose HTTP status the API contract fixes outside the google.rpc mapping.
STATUS_OF_CODE: dict[str, int] = {
    "already_has_access": 422,
    "upstream_unreachable": 502,  # a model provider (not one of our services) is down
    "provider_error": 502,
    "upstream_answer_unreadable": 502,  # the model server answered, but not in a form we read
}
# The codes of the framework's own rejections (unknown route, wrong method, body too large).
CODE_OF_STATUS: dict[int, str] = {
    404: "route_not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    431: "request_headers_too_large",
}
INVALID_REQUEST = "invalid_request"
INTERNAL_ERROR = "internal_error"
_INTERNAL_DETAIL = "internal error, try again later"


def envelope(status: int, code: str, message: str, param: str | None = None) -> Response[Any]:
    """An error response in the API's envelope."""
    body = ErrorEnvelope(
        error=ErrorBody(
            message=message,
            type=ERROR_TYPE.get(status, "internal_server_error"),
            code=code,
            param=param,
        )
    )
    return Response(body, status_code=status, media_type="application/json")


def localized(
    request: Request[Any, Any, Any], code: str, detail: str, param: str | None = None
) -> tuple[str, str]:
    """(message, locale): the catalog's message for `code` in the request's language."""
    locale = negotiate(request.headers.get("accept-language"))
    return catalog().message(locale, code, detail, param), locale


def error_response(
    request: Request[Any, Any, Any], status: int, code: str, detail: str, param: str | None = None
) -> Response[Any]:
    """The envelope with its message in the caller's language (Content-Language says which)."""
    message, locale = localized(request, code, detail, param)
    response = envelope(status, code, message, param)
    response.headers["Content-Language"] = locale
    return response


def status_of(exc: ServiceError) -> int:
    """The HTTP status of a failure in the error vocabulary."""
    return STATUS_OF_CODE.get(exc.code) or HTTP_STATUS.get(exc.status, 500)


def retry_after(exc: ServiceError) -> dict[str, str]:
    """The Retry-After header of a rate limit (none for other failures)."""
    seconds = getattr(exc, "retry_after", None)
    return {"Retry-After": str(seconds)} if seconds else {}


def service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[Any]:
    """A failure in the error vocabulary, raised here or by a service (downstream.call)."""
    status = status_of(exc)
    if status == 500 and exc.code == INTERNAL_ERROR:
        return error_response(request, 500, INTERNAL_ERROR, _INTERNAL_DETAIL)
    response = error_response(request, status, exc.code, exc.message, exc.param)
    response.headers.update(retry_after(exc))
    return response


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Routing, method and body-validation errors raised by the framework."""
    status = exc.status_code
    if status >= 500:
        return unexpected_error(request, exc)
    if isinstance(exc, ValidationException):
        param, message = _first_problem(exc)
        return error_response(request, 400, INVALID_REQUEST, message, param)
    code = CODE_OF_STATUS.get(status, INVALID_REQUEST)
    return error_response(request, status, code, str(exc.detail).lower() if exc.detail else code)


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything else: logged with its traceback, answered without internals."""
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return error_response(request, 500, INTERNAL_ERROR, _INTERNAL_DETAIL)


def _first_problem(exc: ValidationException) -> tuple[str | None, str]:
    extra = exc.extra
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        key = extra[0].get("key")
        message = str(extra[0].get("message", "invalid request body"))
        return (str(key) if key else None), (f"{key}: {message}" if key else message)
    return None, "invalid request body"


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    ServiceError: service_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
