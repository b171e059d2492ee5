"""Calls to another service: a failed call becomes the error vocabulary again, so a service's
error (status, code, message) travels unchanged to the gateway, and a service that is down or
slow becomes a clear 503/504 naming it, never grpc's internal text."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

import grpc

from bodhi_common import errors
from bodhi_common.errors import CODE_KEY, PARAM_KEY, ServiceError

log = logging.getLogger(__name__)
T = TypeVar("T")

_BY_STATUS: dict[grpc.StatusCode, type[ServiceError]] = {
    cls.status: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, ServiceError) and cls is not ServiceError
}


async def call(service: str, awaitable: Awaitable[T]) -> T:
    """Await a call to `service`, turning a gRPC failure into a ServiceError."""
    try:
        return await awaitable
    except grpc.aio.AioRpcError as err:
        raise from_rpc_error(service, err) from None


def from_rpc_error(service: str, err: grpc.aio.AioRpcError) -> ServiceError:
    """The ServiceError a failed call stands for."""
    trailing = dict(err.trailing_metadata() or ())
    code, param = trailing.get(CODE_KEY), trailing.get(PARAM_KEY)
    status = err.code()
    if isinstance(code, str):
        kind = _BY_STATUS.get(status, errors.Internal)
        return kind(
            err.details() or code, code=code, param=param if isinstance(param, str) else None
        )
    if status == grpc.StatusCode.UNAVAILABLE:
        message = f"the {service} service is unavailable, try again shortly"
        return errors.Unavailable(message, code="service_unavailable")
    if status == grpc.StatusCode.DEADLINE_EXCEEDED:
        message = f"the {service} service did not answer in time"
        return errors.DeadlineExceeded(message, code="service_timeout")
    if status == grpc.StatusCode.UNIMPLEMENTED:  # e.g. a service older than the gateway
        message = f"the {service} service does not offer this operation"
        return errors.Unimplemented(message, code="not_implemented")
    if status == grpc.StatusCode.CANCELLED:
        return errors.Cancelled("the request was cancelled", code="request_cancelled")
    log.warning("service call failed", extra={"service": service, "grpc_status": status.name})
    return errors.Internal("internal error, try again later", code="internal_error")
