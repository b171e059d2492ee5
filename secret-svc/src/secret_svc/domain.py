"""secret-svc domain types."""

from __future__ import annotations

from datetime import datetime

import msgspec

from secret_svc.crypto import ScryptParams, Sealed

#: Namespaces and the one service that owns each (the caller named by its internal token).
NAMESPACES = frozenset({"auth", "model", "aiproxy"})
MAX_NAME_LENGTH = 256


class VaultState(msgspec.Struct, frozen=True, kw_only=True):
    """The vault's row: how its master key is obtained and which key versions are in use."""

    master_kind: str  # "key" or "passphrase"
    scrypt: ScryptParams | None
    current_version: int
    min_version: int


class WrappedKey(msgspec.Struct, frozen=True, kw_only=True):
    """A key version's KEK as stored: wrapped by the master key."""

    version: int
    nonce: bytes
    wrapped: bytes


class SecretRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What is known about a stored secret without decrypting it."""

    namespace: str
    name: str
    key_version: int
    size: int
    created_at: datetime
    updated_at: datetime


class StoredSecret(msgspec.Struct, frozen=True, kw_only=True):
    """A secret's row: its metadata and its sealed value."""

    record: SecretRecord
    sealed: Sealed


class KeyVersionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One key version with the number of records under it."""

    version: int
    created_at: datetime
    record_count: int
    current: bool
    decryptable: bool


class KeyStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Key versions of the vault."""

    current_version: int
    min_version: int
    versions: list[KeyVersionInfo]


class RewrapResult(msgspec.Struct, frozen=True, kw_only=True):
    """Progress of one Rewrap call."""

    target_version: int
    rewrapped: int
    batches: int
    remaining: int  # records below the target when this call ended: a batch that another
    # replica rewrapping at the same time has not committed yet still counts
    failed: int


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One audited operation; the secret's name appears only as an HMAC."""

    at: datetime
    caller: str
    principal: str | None
    operation: str
    namespace: str | None
    name_hmac: str | None
    outcome: str  # "ok" or the error code
