"""Key versions: rotate, rewrap (interruptible), retire; only an admin manages them."""

from __future__ import annotations

from typing import Any

import asyncpg
import grpc
import pytest

from bodhi.secret.v1 import secret_pb2 as pb
from bodhi.secret.v1.secret_pb2_grpc import SecretServiceStub
from bodhi_common.errors import CODE_KEY

from support import as_admin, as_service

MODEL = as_service("model")


async def put(stub: SecretServiceStub, name: str, value: bytes) -> int:
    request = pb.PutSecretRequest(namespace="model", name=name, value=value)
    return (await stub.PutSecret(request, metadata=MODEL)).metadata.key_version


async def get(stub: SecretServiceStub, name: str) -> pb.GetSecretResponse:
    request = pb.GetSecretRequest(namespace="model", name=name)
    return await stub.GetSecret(request, metadata=MODEL)


async def rotate(stub: SecretServiceStub) -> int:
    return (await stub.RotateKey(pb.RotateKeyRequest(), metadata=as_admin())).key_version.version


async def status(stub: SecretServiceStub) -> dict[int, int]:
    reply = await stub.GetKeyStatus(pb.GetKeyStatusRequest(), metadata=as_admin())
    return {v.version: v.record_count for v in reply.key_versions}


async def test_after_rotation_old_and_new_secrets_read(secrets: SecretServiceStub) -> None:
    assert await put(secrets, "old", b"written under v1") == 1
    assert await rotate(secrets) == 2
    assert await put(secrets, "new", b"written under v2") == 2
    assert (await get(secrets, "old")).value == b"written under v1"
    assert (await get(secrets, "new")).value == b"written under v2"
    assert await status(secrets) == {1: 1, 2: 1}


async def test_an_interrupted_rewrap_resumes_and_loses_nothing(secrets: SecretServiceStub) -> None:
    for i in range(25):
        await put(secrets, f"s{i:02}", f"value {i}".encode())
    await rotate(secrets)
    first = await secrets.Rewrap(pb.RewrapRequest(batch_size=4, limit=10), metadata=as_admin())
    assert (first.rewrapped_count, first.remaining_count, first.target_version) == (10, 15, 2)
    assert first.batch_count == 3
    assert await status(secrets) == {1: 15, 2: 10}
    rest = await secrets.Rewrap(pb.RewrapRequest(batch_size=4), metadata=as_admin())
    assert (rest.rewrapped_count, rest.remaining_count, rest.failed_count) == (15, 0, 0)
    assert await status(secrets) == {1: 0, 2: 25}
    for i in range(25):
        reply = await get(secrets, f"s{i:02}")
        assert (reply.value, reply.metadata.key_version) == (f"value {i}".encode(), 2)


async def test_rewrap_skips_and_counts_a_corrupt_record(
    secrets: SecretServiceStub, db: asyncpg.Pool[Any]
) -> None:
    await put(secrets, "good", b"fine")
    await put(secrets, "bad", b"broken")
    await db.execute("UPDATE secrets SET ciphertext = '\\x00' || ciphertext WHERE name = 'bad'")
    await rotate(secrets)
    result = await secrets.Rewrap(pb.RewrapRequest(), metadata=as_admin())
    assert (result.rewrapped_count, result.failed_count, result.remaining_count) == (1, 1, 1)


async def test_a_retired_version_refuses_with_a_clear_error(secrets: SecretServiceStub) -> None:
    await put(secrets, "stranded", b"under v1")
    await rotate(secrets)
    request = pb.SetMinDecryptionVersionRequest(min_decryption_version=2)
    reply = await secrets.SetMinDecryptionVersion(request, metadata=as_admin())
    assert (reply.min_decryption_version, reply.stranded_count) == (2, 1)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get(secrets, "stranded")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert dict(caught.value.trailing_metadata() or ())[CODE_KEY] == "key_version_retired"
    keys = await secrets.GetKeyStatus(pb.GetKeyStatusRequest(), metadata=as_admin())
    assert [(v.version, v.decryptable, v.current) for v in keys.key_versions] == [
        (1, False, False),
        (2, True, True),
    ]


async def test_retiring_the_wrong_versions_is_refused(secrets: SecretServiceStub) -> None:
    for version in (0, 2):
        request = pb.SetMinDecryptionVersionRequest(min_decryption_version=version)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await secrets.SetMinDecryptionVersion(request, metadata=as_admin())
        assert dict(caught.value.trailing_metadata() or ())[CODE_KEY] == "invalid_min_version"


async def test_only_an_admin_manages_keys(secrets: SecretServiceStub) -> None:
    for metadata in (MODEL, as_service("gateway")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await secrets.RotateKey(pb.RotateKeyRequest(), metadata=metadata)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert dict(caught.value.trailing_metadata() or ())[CODE_KEY] == "admin_only"
    assert await status(secrets) == {1: 0}
