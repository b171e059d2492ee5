"""The operator CLI against a live vault: status, rotate, rewrap, retire, and a sealed backup
exported from one vault and imported into another with a different master key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bodhi.secret.v1 import secret_pb2 as pb
from bodhi.secret.v1.secret_pb2_grpc import SecretServiceStub
from bodhi_devstack.infra import temporary_database

from support import as_service, new_master_key, settings_env

PASSPHRASE = "a long backup passphrase"


@pytest.fixture
def other_database_url(pg_server: str) -> Iterator[str]:
    """A second fresh database, for a second vault."""
    with temporary_database(pg_server) as url:
        yield url


def cli(env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "secret_svc", *args],
        env={**os.environ, **env, "BODHI_BACKUP_PASSPHRASE": PASSPHRASE},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def fill(stub: SecretServiceStub, count: int) -> None:
    for i in range(count):
        request = pb.PutSecretRequest(namespace="model", name=f"hf/{i}", value=f"hf_{i}".encode())
        await stub.PutSecret(request, metadata=as_service("model"))


async def test_rotate_rewrap_and_retire_from_the_command_line(
    secrets: SecretServiceStub, env: dict[str, str]
) -> None:
    await fill(secrets, 7)
    assert cli(env, "rotate") == {"current_version": 2}
    rewrapped = cli(env, "rewrap", "--batch-size", "3")
    assert (rewrapped["rewrapped"], rewrapped["remaining"]) == (7, 0)
    assert cli(env, "retire", "2") == {"min_version": 2, "stranded": 0}
    status = cli(env, "status")
    assert (status["current_version"], status["min_version"]) == (2, 2)
    assert [(v["version"], v["record_count"]) for v in status["versions"]] == [(1, 0), (2, 7)]
    reply = await secrets.GetSecret(
        pb.GetSecretRequest(namespace="model", name="hf/3"), metadata=as_service("model")
    )
    assert reply.value == b"hf_3"


async def test_a_backup_restores_into_a_vault_with_another_master_key(
    secrets: SecretServiceStub, env: dict[str, str], other_database_url: str, tmp_path: Path
) -> None:
    await fill(secrets, 5)
    backup = tmp_path / "vault.backup"
    assert cli(env, "export", str(backup)) == {"exported": 5, "file": str(backup)}
    assert backup.stat().st_mode & 0o777 == 0o600
    assert b"hf_3" not in backup.read_bytes()
    other = settings_env(other_database_url, BODHI_MASTER_KEY=new_master_key())
    assert cli(other, "import", str(backup)) == {"imported": 5}
    status = cli(other, "status")
    assert [v["record_count"] for v in status["versions"]] == [5]


def test_a_wrong_backup_passphrase_is_one_clear_line(env: dict[str, str], tmp_path: Path) -> None:
    backup = tmp_path / "vault.backup"
    cli(env, "export", str(backup))
    result = subprocess.run(
        [sys.executable, "-m", "secret_svc", "import", str(backup)],
        env={**os.environ, **env, "BODHI_BACKUP_PASSPHRASE": "not the passphrase"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "secret-cli: wrong passphrase, or the backup is damaged"
    )
