"""Each service reaches only its own namespace; every operation is audited, and nothing in the
database — audit trail included — holds a secret's name or value in clear."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import grpc
import pytest

from bodhi.secret.v1 import secret_pb2 as pb
from bodhi.secret.v1.secret_pb2_grpc import SecretServiceStub
from bodhi_common.bootstrap import COMMON_MIGRATIONS
from bodhi_common.clock import ManualClock
from bodhi_common.context import Principal
from bodhi_common.errors import CODE_KEY
from bodhi_common.migrations import migrate
from secret_svc.audit import Auditor
from secret_svc.server import SPEC
from secret_svc.store import SecretStore

from support import as_service, dump_database

NAME = "api_key/very-identifiable-name"
VALUE = b"sk-proj-plaintext-that-must-never-appear"


async def audit_rows(db: asyncpg.Pool[Any], count: int) -> list[asyncpg.Record]:
    """The audit trail once `count` rows are in (reads are written in batches)."""
    for _ in range(100):
        rows = await db.fetch("SELECT * FROM audit_log ORDER BY id")
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.02)
    return rows


async def test_a_service_cannot_reach_another_namespace(
    secrets: SecretServiceStub, db: asyncpg.Pool[Any]
) -> None:
    put = pb.PutSecretRequest(namespace="auth", name="client_secret", value=b"x")
    await secrets.PutSecret(put, metadata=as_service("auth"))
    read = pb.GetSecretRequest(namespace="auth", name="client_secret")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await secrets.GetSecret(read, metadata=as_service("aiproxy"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert dict(caught.value.trailing_metadata() or ())[CODE_KEY] == "namespace_forbidden"
    rows = await audit_rows(db, 2)
    denied = [r for r in rows if r["outcome"] == "namespace_forbidden"]
    assert [(r["caller"], r["operation"], r["namespace"]) for r in denied] == [
        ("aiproxy", "get", "auth")
    ]


@pytest.mark.parametrize("namespace", ["gateway", "", "AIPROXY"])
async def test_unknown_namespaces_are_refused(secrets: SecretServiceStub, namespace: str) -> None:
    request = pb.PutSecretRequest(namespace=namespace, name="x", value=b"x")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await secrets.PutSecret(request, metadata=as_service("gateway"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(caught.value.trailing_metadata() or ())[CODE_KEY] == "unknown_namespace"


async def test_the_audit_trail_records_who_did_what(
    secrets: SecretServiceStub, db: asyncpg.Pool[Any]
) -> None:
    alice = as_service("aiproxy", Principal(sub="user-alice", role="resource_user"))
    await secrets.PutSecret(
        pb.PutSecretRequest(namespace="aiproxy", name=NAME, value=VALUE), metadata=alice
    )
    await secrets.GetSecret(pb.GetSecretRequest(namespace="aiproxy", name=NAME), metadata=alice)
    with pytest.raises(grpc.aio.AioRpcError):
        await secrets.GetSecret(
            pb.GetSecretRequest(namespace="aiproxy", name="nope"), metadata=alice
        )
    rows = await audit_rows(db, 3)
    summary = [(r["caller"], r["principal"], r["operation"], r["outcome"]) for r in rows]
    assert summary == [
        ("aiproxy", "user-alice", "put", "ok"),
        ("aiproxy", "user-alice", "get", "ok"),
        ("aiproxy", "user-alice", "get", "secret_not_found"),
    ]
    assert rows[0]["name_hmac"] == rows[1]["name_hmac"] != rows[2]["name_hmac"]


async def test_values_never_and_names_only_as_the_lookup_key_appear_in_the_database(
    secrets: SecretServiceStub, db: asyncpg.Pool[Any], database_url: str
) -> None:
    metadata = as_service("aiproxy")
    await secrets.PutSecret(
        pb.PutSecretRequest(namespace="aiproxy", name=NAME, value=VALUE), metadata=metadata
    )
    await secrets.GetSecret(pb.GetSecretRequest(namespace="aiproxy", name=NAME), metadata=metadata)
    await audit_rows(db, 2)
    dump = await dump_database(database_url)
    assert "audit_log" in dump
    assert VALUE.decode() not in dump
    assert VALUE.hex() not in dump
    # The name is the secrets row's key (ListSecrets returns it); the audit trail has an HMAC.
    holding_the_name = [line.split(":")[0] for line in dump.splitlines() if NAME in line]
    assert holding_the_name == ["secrets"]


async def test_audit_entries_older_than_the_retention_period_are_pruned(
    db: asyncpg.Pool[Any],
) -> None:
    await migrate(db, [("common", COMMON_MIGRATIONS), ("secret", SPEC.migrations)])
    clock = ManualClock(start=datetime(2026, 6, 1, tzinfo=UTC).timestamp())
    insert = (
        "INSERT INTO audit_log (at, caller, operation, outcome) VALUES ($1, 'auth', 'get', 'ok')"
    )
    await db.execute(insert, datetime(2026, 2, 1, tzinfo=UTC))  # 120 days old
    await db.execute(insert, datetime(2026, 5, 1, tzinfo=UTC))  # 31 days old
    async with Auditor(SecretStore(db), b"k" * 32, clock, retention_days=90):
        for _ in range(100):
            if await db.fetchval("SELECT count(*) FROM audit_log") == 1:
                break
            await asyncio.sleep(0.02)
    kept = await db.fetch("SELECT at FROM audit_log")
    assert [row["at"] for row in kept] == [datetime(2026, 5, 1, tzinfo=UTC)]
