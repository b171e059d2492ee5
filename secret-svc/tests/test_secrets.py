"""Putting, getting, listing and deleting secrets over gRPC, with bad input refused cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import grpc
import pytest

from bodhi.common.v1 import common_pb2
from bodhi.secret.v1 import secret_pb2 as pb
from bodhi.secret.v1.secret_pb2_grpc import SecretServiceStub
from bodhi_common.errors import CODE_KEY

from support import as_service

AIPROXY = as_service("aiproxy")


async def put(stub: SecretServiceStub, name: str, value: bytes) -> pb.PutSecretResponse:
    request = pb.PutSecretRequest(namespace="aiproxy", name=name, value=value)
    return await stub.PutSecret(request, metadata=AIPROXY)


async def get(stub: SecretServiceStub, name: str) -> pb.GetSecretResponse:
    request = pb.GetSecretRequest(namespace="aiproxy", name=name)
    return await stub.GetSecret(request, metadata=AIPROXY)


async def failure(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), dict(caught.value.trailing_metadata() or ())[CODE_KEY]


async def test_a_secret_round_trips(secrets: SecretServiceStub) -> None:
    stored = await put(secrets, "api_key/openai", b"sk-live-123")
    assert stored.created
    assert (stored.metadata.key_version, stored.metadata.size) == (1, 11)
    reply = await get(secrets, "api_key/openai")
    assert reply.value == b"sk-live-123"
    assert reply.metadata.name == "api_key/openai"


async def test_a_put_replaces_the_value(secrets: SecretServiceStub) -> None:
    await put(secrets, "token", b"one")
    replaced = await put(secrets, "token", b"two")
    assert not replaced.created
    assert (await get(secrets, "token")).value == b"two"


async def test_each_write_uses_a_fresh_nonce_and_salt(
    secrets: SecretServiceStub, db: asyncpg.Pool[Any]
) -> None:
    sealed = []
    for _ in range(2):
        await put(secrets, "same", b"same plaintext")
        sealed.append(await db.fetchrow("SELECT salt, nonce, ciphertext FROM secrets"))
    assert sealed[0]["nonce"] != sealed[1]["nonce"]
    assert sealed[0]["salt"] != sealed[1]["salt"]
    assert sealed[0]["ciphertext"] != sealed[1]["ciphertext"]


async def test_listing_shows_names_and_metadata_never_values(secrets: SecretServiceStub) -> None:
    for name in ("api_key/a", "api_key/b", "other"):
        await put(secrets, name, b"value-" + name.encode())
    request = pb.ListSecretsRequest(namespace="aiproxy", name_prefix="api_key/")
    reply = await secrets.ListSecrets(request, metadata=AIPROXY)
    assert [s.name for s in reply.secrets] == ["api_key/a", "api_key/b"]
    assert reply.page_info.total == 2
    assert b"value-" not in reply.SerializeToString()
    paged = pb.ListSecretsRequest(
        namespace="aiproxy", page=common_pb2.PageRequest(page=2, page_size=2)
    )
    reply = await secrets.ListSecrets(paged, metadata=AIPROXY)
    assert ([s.name for s in reply.secrets], reply.page_info.total) == (["other"], 3)


async def test_a_prefix_with_wildcards_matches_literally(secrets: SecretServiceStub) -> None:
    await put(secrets, "a_b", b"1")
    await put(secrets, "axb", b"2")
    request = pb.ListSecretsRequest(namespace="aiproxy", name_prefix="a_")
    reply = await secrets.ListSecrets(request, metadata=AIPROXY)
    assert [s.name for s in reply.secrets] == ["a_b"]


async def test_delete_removes_and_tolerates_absence(secrets: SecretServiceStub) -> None:
    await put(secrets, "gone", b"x")
    request = pb.DeleteSecretRequest(namespace="aiproxy", name="gone")
    assert (await secrets.DeleteSecret(request, metadata=AIPROXY)).deleted
    assert not (await secrets.DeleteSecret(request, metadata=AIPROXY)).deleted
    assert await failure(get(secrets, "gone")) == (grpc.StatusCode.NOT_FOUND, "secret_not_found")


@pytest.mark.parametrize("name", ["", "x" * 257, "bad\nname", "tab\there"])
async def test_bad_names_are_refused(secrets: SecretServiceStub, name: str) -> None:
    expected = (grpc.StatusCode.INVALID_ARGUMENT, "invalid_secret_name")
    assert await failure(put(secrets, name, b"x")) == expected


async def test_an_oversize_value_is_refused_and_nothing_is_written(
    secrets: SecretServiceStub, db: asyncpg.Pool[Any]
) -> None:
    code = await failure(put(secrets, "big", b"x" * (64 * 1024 + 1)))
    assert code == (grpc.StatusCode.INVALID_ARGUMENT, "secret_too_large")
    assert await db.fetchval("SELECT count(*) FROM secrets") == 0
    await put(secrets, "big", b"x" * (64 * 1024))


async def test_parallel_puts_and_gets_lose_nothing(secrets: SecretServiceStub) -> None:
    async def writer(i: int) -> None:
        await put(secrets, f"distinct/{i}", f"value {i}".encode())
        await put(secrets, "shared", f"shared {i}".encode())
        assert (await get(secrets, f"distinct/{i}")).value == f"value {i}".encode()

    await asyncio.gather(*(writer(i) for i in range(200)))
    for i in range(200):
        assert (await get(secrets, f"distinct/{i}")).value == f"value {i}".encode()
    assert (await get(secrets, "shared")).value.startswith(b"shared ")
    listed = await secrets.ListSecrets(pb.ListSecretsRequest(namespace="aiproxy"), metadata=AIPROXY)
    assert listed.page_info.total == 201
