"""GetAppInfo: the installation's version and setup status."""

from __future__ import annotations

from importlib.metadata import version

import asyncpg

from bodhi.auth.v1 import auth_pb2, auth_pb2_grpc

from support import as_gateway


async def test_a_new_install_is_in_setup(auth: auth_pb2_grpc.AuthServiceStub) -> None:
    reply = await auth.GetAppInfo(auth_pb2.GetAppInfoRequest(), metadata=as_gateway())
    assert reply.status == auth_pb2.APP_STATUS_SETUP
    assert reply.version == version("bodhi-auth-svc")


async def test_the_stored_status_is_reported(
    auth: auth_pb2_grpc.AuthServiceStub, database_url: str
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO app (status, name) VALUES ('ready', 'My Bodhi server')")
    finally:
        await conn.close()
    reply = await auth.GetAppInfo(auth_pb2.GetAppInfoRequest(), metadata=as_gateway())
    assert reply.status == auth_pb2.APP_STATUS_READY
