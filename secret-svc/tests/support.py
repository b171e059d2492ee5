"""Builders for secret-svc tests: settings, callers' metadata, raw database access."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bodhi_common.clock import SystemClock
from bodhi_common.config import load
from bodhi_common.context import Principal
from bodhi_common.internal_auth import InternalAuth, Metadata
from secret_svc.domain import AuditEntry
from secret_svc.settings import SecretSettings
from secret_svc.store import SecretStore
from secret_svc.vault import Vault

KEY = "secret-svc-test-internal-key-0123456789"


def new_master_key() -> str:
    """A fresh master key as BODHI_MASTER_KEY takes it."""
    return base64.b64encode(os.urandom(32)).decode()


def settings_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a secret-svc on `database_url` listening on a free port."""
    return {
        "DATABASE_URL": database_url,
        "BODHI_INTERNAL_KEY": KEY,
        "BODHI_GRPC_LISTEN": "127.0.0.1:0",
        **extra,
    }


def settings_of(env: dict[str, str]) -> SecretSettings:
    """Settings from an environment."""
    return load(SecretSettings, env)


def as_service(service: str, principal: Principal | None = None) -> Metadata:
    """Metadata of a call made by `service` (optionally for a person)."""
    return InternalAuth(KEY, service, SystemClock()).metadata("secret", principal)


def as_admin() -> Metadata:
    """Metadata of a call the gateway makes for an admin."""
    return as_service("gateway", Principal(sub="admin-1", role="resource_admin"))


async def dump_database(database_url: str) -> str:
    """Every row of every table as text (bytea as hex): what a stolen backup would show."""
    conn: asyncpg.Connection[Any] = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        lines = []
        for (table,) in tables:
            rows = await conn.fetch(f'SELECT t::text FROM "{table}" t')
            lines += [f"{table}: {row[0]}" for row in rows]
        return "\n".join(lines)
    finally:
        await conn.close()


#: An audit entry for vault calls made directly by a test.
ENTRY = AuditEntry(
    at=datetime.now(UTC), caller="test", principal=None, operation="put", namespace="auth",
    name_hmac=None, outcome="ok",
)  # fmt: skip


async def open_vault(
    store: SecretStore, database_url: str, keyring: Any = None, **source: str
) -> Vault:
    """A vault on `store`, its master key from `source` (e.g. BODHI_MASTER_KEY=...)."""
    settings = settings_of(settings_env(database_url, **source))
    return await Vault.open(store, settings, SystemClock(), keyring)
