"""The server interceptor: internal-auth check, request-id and caller context, and the one place
where errors become gRPC statuses (ServiceError → its status and code; anything else → logged,
INTERNAL, no internals leaked)."""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeAlias

import asyncpg
import grpc

from bodhi_common.context import (
    REQUEST_ID_KEY,
    Caller,
    accept_request_id,
    caller_var,
    request_id_var,
)
from bodhi_common.errors import (
    CODE_KEY,
    PARAM_KEY,
    DeadlineExceeded,
    Internal,
    ServiceError,
    Unavailable,
    Unimplemented,
)
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.metrics import GrpcMetrics, MethodMetrics

log = logging.getLogger(__name__)

#: Methods any peer may call without an internal token (probes and tooling).
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

#: A database connection that broke mid-call or could not be made (a restart, a network cut, no
#: free connection): the caller may try again, so UNAVAILABLE (the gateway's 503), not a bug.
#: The pool replaces broken connections on its own. (A service's only raw sockets are its
#: database's: service peers fail as grpc errors and providers' as aiohttp ones, mapped apart.)
DATABASE_DOWN: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    ConnectionError,
)

#: A query that outran its timeout (asyncpg's command_timeout, or a `timeout=` on the call) or a
#: pool with no free connection in time: asyncio's TimeoutError, here only the database's (a
#: provider's silence is mapped in aiproxy-svc's upstream, a peer's as a grpc error). The
#: caller may try again, so DEADLINE_EXCEEDED (the gateway's 504), not a bug.
DATABASE_SLOW: tuple[type[Exception], ...] = (TimeoutError,)

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Continuation: TypeAlias = "Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]]"


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every non-open method of the server (wrappers are built once per method)."""

    def __init__(self, auth: InternalAuth, metrics: GrpcMetrics) -> None:
        self._auth = auth
        self._metrics = metrics
        self._wrapped: dict[str, Handler] = {}

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        """The method's handler, wrapped unless the method is open."""
        method: str = handler_call_details.method
        if method.startswith(OPEN_PREFIXES):
            return await continuation(handler_call_details)
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = await continuation(handler_call_details)
            if handler is None:
                return None
            timer = self._metrics.method(method)
            wrapped = self._wrapped[method] = _wrap(handler, method, self._auth, timer)
        return wrapped


def _wrap(handler: Handler, method: str, auth: InternalAuth, timer: MethodMetrics) -> Handler:
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _unary(handler.unary_unary, method, auth, timer), **kwargs
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(handler.unary_stream, method, auth, timer), **kwargs
        )
    # Client-streaming methods are not part of our contracts; refuse rather than run unchecked.
    raise TypeError(f"{method}: client-streaming RPCs are not supported by the interceptor")


def _unary(behaviour: Any, method: str, auth: InternalAuth, timer: MethodMetrics) -> Any:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        tokens = _enter(context)
        started, ok = time.perf_counter(), False
        try:
            _authenticate(context, auth)
            response = await behaviour(request, context)
            ok = True
            return response
        except Exception as exc:
            await _fail(context, exc, method)
        finally:
            timer.done(context, ok, started)
            _leave(tokens)

    return call


def _streaming(behaviour: Any, method: str, auth: InternalAuth, timer: MethodMetrics) -> Any:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        tokens = _enter(context)
        started, ok = time.perf_counter(), False
        try:
            _authenticate(context, auth)
            result = behaviour(request, context)
            if inspect.isasyncgen(result):
                async for item in result:
                    yield item
            else:
                await result
            ok = True
        except Exception as exc:
            await _fail(context, exc, method)
        finally:
            timer.done(context, ok, started)
            _leave(tokens)

    return call


Tokens = tuple[contextvars.Token[str | None], contextvars.Token[Caller | None]]


def _header(context: grpc.aio.ServicerContext[Any, Any], name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name and isinstance(value, str):
            return value
    return None


def _enter(context: grpc.aio.ServicerContext[Any, Any]) -> Tokens:
    request_id = accept_request_id(_header(context, REQUEST_ID_KEY))
    return request_id_var.set(request_id), caller_var.set(None)


def _leave(tokens: Tokens) -> None:
    request_id_var.reset(tokens[0])
    caller_var.reset(tokens[1])


def _authenticate(context: grpc.aio.ServicerContext[Any, Any], auth: InternalAuth) -> None:
    caller_var.set(auth.verify(_header(context, "authorization")))


async def _fail(
    context: grpc.aio.ServicerContext[Any, Any], exc: Exception, method: str
) -> NoReturn:
    if isinstance(exc, grpc.aio.AbortError):
        raise exc
    if isinstance(exc, NotImplementedError):
        # The generated base class raises this for every RPC a service has not built yet.
        exc = Unimplemented(f"{method.lstrip('/')} is not implemented yet")
    if isinstance(exc, DATABASE_DOWN):
        log.warning("database unavailable", extra={"method": method, "error": type(exc).__name__})
        exc = Unavailable(
            "the database is unavailable, try again shortly", code="database_unavailable"
        )
    if isinstance(exc, DATABASE_SLOW):
        log.warning("database timed out", extra={"method": method, "error": type(exc).__name__})
        exc = DeadlineExceeded("the database did not answer in time", code="database_timeout")
    if not isinstance(exc, ServiceError):
        log.error("unhandled error", exc_info=exc, extra={"method": method})
        exc = Internal("internal error")
    elif exc.status in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
        log.warning("%s", exc.message, extra={"method": method, "code": exc.code})
    trailing: tuple[tuple[str, str], ...] = ((CODE_KEY, exc.code),)
    if exc.param is not None:
        trailing += ((PARAM_KEY, exc.param),)
    await context.abort(exc.status, exc.message, trailing_metadata=trailing)
