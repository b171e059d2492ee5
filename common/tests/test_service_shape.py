"""The service shape every service shares, served for real on a local port: internal auth,
error translation, request ids, health, SettingsService and graceful stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bodhi.auth.v1 import auth_pb2, auth_pb2_grpc
from bodhi.settings.v1 import settings_pb2, settings_pb2_grpc
from bodhi_common.bootstrap import ServiceSpec, running_service
from bodhi_common.clock import Clock, SystemClock
from bodhi_common.config import load
from bodhi_common.context import current_caller, request_id_var
from bodhi_common.errors import CODE_KEY, PARAM_KEY, InvalidArgument
from bodhi_common.grpc_server import GrpcServer
from bodhi_common.internal_auth import InternalAuth
from bodhi_common.service_settings import ServiceSettings

KEY = "test-internal-key-0123456789abcdef"
LEAK = "password=hunter2"


class Probe(auth_pb2_grpc.AuthServiceServicer):
    """AuthService stand-in whose methods exercise the interceptor."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    async def GetAppInfo(self, request: Any, context: Any) -> auth_pb2.GetAppInfoResponse:
        caller = current_caller()
        return auth_pb2.GetAppInfoResponse(version=f"{caller.service}|{request_id_var.get()}")

    async def SetupApp(self, request: Any, context: Any) -> auth_pb2.SetupAppResponse:
        raise InvalidArgument("name is too short", code="name_too_short", param="name")

    async def RequestAppAccess(self, request: Any, context: Any) -> Any:
        raise RuntimeError(LEAK)

    async def CreateApiToken(self, request: Any, context: Any) -> Any:
        raise asyncpg.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        )

    async def ListApiTokens(self, request: Any, context: Any) -> Any:
        raise ConnectionResetError(104, "Connection reset by peer")

    async def GetPrincipal(self, request: Any, context: Any) -> Any:
        # A query the real database takes longer over than its timeout allows.
        await self._pool.execute("SELECT pg_sleep(5)", timeout=0.2)

    async def Logout(self, request: Any, context: Any) -> auth_pb2.LogoutResponse:
        await asyncio.sleep(0.5)
        return auth_pb2.LogoutResponse()


@asynccontextmanager
async def register(
    server: GrpcServer, pool: asyncpg.Pool[Any], settings: Any, clock: Clock
) -> AsyncIterator[None]:
    server.add(
        auth_pb2_grpc.add_AuthServiceServicer_to_server, Probe(pool), "bodhi.auth.v1.AuthService"
    )
    yield


SPEC = ServiceSpec(component="auth", migrations=Path("/nonexistent"), register=register)


@pytest.fixture
def environ(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "BODHI_INTERNAL_KEY": KEY,
        "BODHI_GRPC_LISTEN": "127.0.0.1:0",
    }


@pytest.fixture
async def server(environ: dict[str, str]) -> AsyncIterator[GrpcServer]:
    settings = load(ServiceSettings, environ)
    async with running_service(SPEC, settings, SystemClock(), environ) as server:
        yield server


@pytest.fixture
async def channel(server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel


def as_gateway(request_id: str | None = None) -> tuple[tuple[str, str], ...]:
    token = request_id_var.set(request_id)
    try:
        return InternalAuth(KEY, "gateway", SystemClock()).metadata("auth")
    finally:
        request_id_var.reset(token)


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def test_calls_without_a_valid_internal_token_are_refused(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    err = await rpc_error(stub.GetAppInfo(auth_pb2.GetAppInfoRequest()))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    forged = InternalAuth("another-key-that-is-long-enough-xx", "gateway", SystemClock())
    err = await rpc_error(
        stub.GetAppInfo(auth_pb2.GetAppInfoRequest(), metadata=forged.metadata("auth"))
    )
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert dict(err.trailing_metadata() or ())[CODE_KEY] == "internal_auth_invalid"


async def test_the_caller_and_request_id_reach_the_handler(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    reply = await stub.GetAppInfo(auth_pb2.GetAppInfoRequest(), metadata=as_gateway("req-42"))
    assert reply.version == "gateway|req-42"


async def test_a_hostile_request_id_is_replaced(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    metadata = as_gateway('forged" "level":"error' + "y" * 100)
    reply = await stub.GetAppInfo(auth_pb2.GetAppInfoRequest(), metadata=metadata)
    request_id = reply.version.split("|")[1]
    assert '"' not in request_id
    assert len(request_id) <= 64


async def test_service_errors_keep_status_code_and_param(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    err = await rpc_error(stub.SetupApp(auth_pb2.SetupAppRequest(), metadata=as_gateway()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "name is too short"
    trailing = dict(err.trailing_metadata() or ())
    assert (trailing[CODE_KEY], trailing[PARAM_KEY]) == ("name_too_short", "name")


async def test_unexpected_errors_leak_nothing(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    err = await rpc_error(
        stub.RequestAppAccess(auth_pb2.RequestAppAccessRequest(), metadata=as_gateway())
    )
    assert err.code() == grpc.StatusCode.INTERNAL
    assert LEAK not in (err.details() or "")
    assert dict(err.trailing_metadata() or ())[CODE_KEY] == "internal_error"


async def test_a_lost_database_connection_is_unavailable_not_internal(
    channel: grpc.aio.Channel,
) -> None:
    """A connection cut under a call (issue #9: PostgreSQL reset under writes) is a clean
    UNAVAILABLE the gateway turns into 503, whether asyncpg or the socket reports it."""
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    for call in (
        stub.CreateApiToken(auth_pb2.CreateApiTokenRequest(), metadata=as_gateway()),
        stub.ListApiTokens(auth_pb2.ListApiTokensRequest(), metadata=as_gateway()),
    ):
        err = await rpc_error(call)
        assert err.code() == grpc.StatusCode.UNAVAILABLE
        assert err.details() == "the database is unavailable, try again shortly"
        assert dict(err.trailing_metadata() or ())[CODE_KEY] == "database_unavailable"


async def test_a_database_too_slow_to_answer_is_a_deadline_not_internal(
    channel: grpc.aio.Channel,
) -> None:
    """A query past its timeout (asyncpg raises TimeoutError) is DEADLINE_EXCEEDED, the
    gateway's 504 `database_timeout`, not a 500 (issue #9: a hung database)."""
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    err = await rpc_error(stub.GetPrincipal(auth_pb2.GetPrincipalRequest(), metadata=as_gateway()))
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert err.details() == "the database did not answer in time"
    assert dict(err.trailing_metadata() or ())[CODE_KEY] == "database_timeout"


async def test_rpcs_not_built_yet_answer_unimplemented_clearly(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    err = await rpc_error(stub.ListUsers(auth_pb2.ListUsersRequest(), metadata=as_gateway()))
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED
    assert err.details() == "bodhi.auth.v1.AuthService/ListUsers is not implemented yet"
    assert dict(err.trailing_metadata() or ())[CODE_KEY] == "not_implemented"


async def test_health_needs_no_token_and_reports_serving(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "bodhi.auth.v1.AuthService", "bodhi.settings.v1.SettingsService"):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_settings_list_sources_and_hides_secrets(
    channel: grpc.aio.Channel, database_url: str
) -> None:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool:
        await pool.execute("INSERT INTO settings (key, value) VALUES ('BODHI_DB_POOL_SIZE', '7')")
    stub = settings_pb2_grpc.SettingsServiceStub(channel)
    reply = await stub.ListSettings(settings_pb2.ListSettingsRequest(), metadata=as_gateway())
    found = {s.key: s for s in reply.settings}
    assert found["DATABASE_URL"].current_value.string_value == "***"
    assert found["BODHI_INTERNAL_KEY"].current_value.string_value == "***"
    assert KEY not in str(reply)
    assert found["BODHI_GRPC_LISTEN"].source == settings_pb2.SETTING_SOURCE_ENVIRONMENT
    assert found["BODHI_DB_POOL_SIZE"].source == settings_pb2.SETTING_SOURCE_DATABASE
    assert found["BODHI_DB_POOL_SIZE"].current_value.number_value == 7
    level = found["BODHI_LOG_LEVEL"]
    assert level.source == settings_pb2.SETTING_SOURCE_DEFAULT
    assert list(level.metadata.option.options) == ["error", "warn", "info", "debug", "trace"]
    pool_size = found["BODHI_DB_POOL_SIZE"].metadata.number
    assert (pool_size.min, pool_size.max, pool_size.integer) == (1, 50, True)
    assert found["BODHI_LOG_LEVEL"].component == "auth-svc"


async def test_settings_refuse_unknown_and_non_editable_keys(channel: grpc.aio.Channel) -> None:
    stub = settings_pb2_grpc.SettingsServiceStub(channel)
    value = struct_pb2.Value(string_value="debug")
    err = await rpc_error(
        stub.UpdateSetting(
            settings_pb2.UpdateSettingRequest(key="NOPE", value=value), metadata=as_gateway()
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert dict(err.trailing_metadata() or ())[CODE_KEY] == "settings_error-not_found"
    err = await rpc_error(
        stub.ResetSetting(
            settings_pb2.ResetSettingRequest(key="BODHI_DB_POOL_SIZE"), metadata=as_gateway()
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.trailing_metadata() or ())[CODE_KEY] == "settings_error-unsupported"


async def test_the_log_level_changes_at_once_and_is_audited(
    channel: grpc.aio.Channel, database_url: str
) -> None:
    stub = settings_pb2_grpc.SettingsServiceStub(channel)
    root = logging.getLogger()
    before = root.level
    try:
        refusals = [
            (struct_pb2.Value(string_value="loud"), "invalid_value"),
            (struct_pb2.Value(null_value=struct_pb2.NULL_VALUE), "null_value"),
        ]
        for bad, code in refusals:
            request = settings_pb2.UpdateSettingRequest(key="BODHI_LOG_LEVEL", value=bad)
            err = await rpc_error(stub.UpdateSetting(request, metadata=as_gateway()))
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (
                dict(err.trailing_metadata() or ())[CODE_KEY] == f"settings_metadata_error-{code}"
            )
        request = settings_pb2.UpdateSettingRequest(
            key="BODHI_LOG_LEVEL", value=struct_pb2.Value(string_value="debug")
        )
        reply = await stub.UpdateSetting(request, metadata=as_gateway())
        assert reply.setting.source == settings_pb2.SETTING_SOURCE_DATABASE
        assert reply.setting.current_value.string_value == "debug"
        assert reply.setting.editable
        assert root.level == logging.DEBUG  # applied without a restart
        reset = settings_pb2.ResetSettingRequest(key="BODHI_LOG_LEVEL")
        after = await stub.ResetSetting(reset, metadata=as_gateway())
        assert after.setting.source == settings_pb2.SETTING_SOURCE_DEFAULT
        assert root.level == logging.INFO
    finally:
        root.setLevel(before)
    async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool:
        rows = await pool.fetch("SELECT key, value::text, actor FROM settings_audit ORDER BY id")
    assert [(r["key"], r["value"]) for r in rows] == [
        ("BODHI_LOG_LEVEL", '"debug"'), ("BODHI_LOG_LEVEL", None),
    ]  # fmt: skip
    assert all(r["actor"] == "gateway" for r in rows)


async def test_a_change_applies_on_every_replica(environ: dict[str, str]) -> None:
    """Two replicas on one database: a value set through one is applied by the other too."""
    seen: dict[str, list[Any]] = {"a": [], "b": []}

    def spec(name: str) -> ServiceSpec:
        @asynccontextmanager
        async def marks(server: GrpcServer, *_: Any) -> AsyncIterator[None]:
            assert server.live is not None
            server.live.editable("BODHI_SHUTDOWN_GRACE_SECONDS", seen[name].append)
            yield

        return ServiceSpec(component="auth", migrations=Path("/nonexistent"), register=marks)

    settings = load(ServiceSettings, environ)
    async with (
        running_service(spec("a"), settings, SystemClock(), environ) as first,
        running_service(spec("b"), settings, SystemClock(), environ),
        grpc.aio.insecure_channel(f"127.0.0.1:{first.port}") as channel,
    ):
        stub = settings_pb2_grpc.SettingsServiceStub(channel)
        request = settings_pb2.UpdateSettingRequest(
            key="BODHI_SHUTDOWN_GRACE_SECONDS", value=struct_pb2.Value(number_value=4)
        )
        await stub.UpdateSetting(request, metadata=as_gateway())
        for _ in range(100):  # the NOTIFY reaches the other replica asynchronously
            if seen["b"][-1:] == [4.0]:
                break
            await asyncio.sleep(0.02)
    assert seen["a"][0] == seen["b"][0] == 10.0  # the default, applied at start
    assert seen["a"][-1] == seen["b"][-1] == 4.0
