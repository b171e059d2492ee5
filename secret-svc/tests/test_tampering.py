"""A secret whose stored bytes were changed, or moved to another row, refuses to decrypt."""

from __future__ import annotations

from typing import Any

import asyncpg
import grpc
import pytest

from bodhi.secret.v1 import secret_pb2 as pb
from bodhi.secret.v1.secret_pb2_grpc import SecretServiceStub
from bodhi_common.errors import CODE_KEY

from support import as_admin, as_service

AIPROXY = as_service("aiproxy")


async def store(stub: SecretServiceStub, name: str, value: bytes) -> None:
    request = pb.PutSecretRequest(namespace="aiproxy", name=name, value=value)
    await stub.PutSecret(request, metadata=AIPROXY)


async def read_error(stub: SecretServiceStub, name: str) -> tuple[grpc.StatusCode, str, str]:
    request = pb.GetSecretRequest(namespace="aiproxy", name=name)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetSecret(request, metadata=AIPROXY)
    err = caught.value
    return err.code(), dict(err.trailing_metadata() or ())[CODE_KEY], err.details() or ""


def flip_first_byte(data: bytes) -> bytes:
    return bytes([data[0] ^ 0x01]) + data[1:]


@pytest.mark.parametrize("column", ["ciphertext", "nonce", "salt"])
async def test_one_flipped_byte_is_detected(
    secrets: SecretServiceStub, db: asyncpg.Pool[Any], column: str
) -> None:
    await store(secrets, "key", b"sk-secret")
    stored = await db.fetchval(f"SELECT {column} FROM secrets")
    await db.execute(f"UPDATE secrets SET {column} = $1", flip_first_byte(stored))
    status, code, message = await read_error(secrets, "key")
    assert (status, code) == (grpc.StatusCode.DATA_LOSS, "secret_corrupt")
    assert "sk-secret" not in message


async def test_a_ciphertext_copied_to_another_name_does_not_open(
    secrets: SecretServiceStub, db: asyncpg.Pool[Any]
) -> None:
    await store(secrets, "mine", b"value of mine")
    await store(secrets, "theirs", b"value of theirs")
    await db.execute(
        "UPDATE secrets AS t SET salt = m.salt, nonce = m.nonce, ciphertext = m.ciphertext"
        " FROM secrets AS m WHERE m.name = 'mine' AND t.name = 'theirs'"
    )
    status, code, _ = await read_error(secrets, "theirs")
    assert (status, code) == (grpc.StatusCode.DATA_LOSS, "secret_corrupt")


async def test_a_row_relabelled_with_another_key_version_does_not_open(
    secrets: SecretServiceStub, db: asyncpg.Pool[Any]
) -> None:
    await store(secrets, "key", b"value")
    await secrets.RotateKey(pb.RotateKeyRequest(), metadata=as_admin())
    await db.execute("UPDATE secrets SET key_version = 2")
    status, code, _ = await read_error(secrets, "key")
    assert (status, code) == (grpc.StatusCode.DATA_LOSS, "secret_corrupt")
