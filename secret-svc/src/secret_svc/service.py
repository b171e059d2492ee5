"""SecretService: protobuf ↔ domain translation only; authorisation and audit wrap each call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2

from bodhi.secret.v1 import secret_pb2, secret_pb2_grpc
from bodhi_common.paging import page_of
from secret_svc.audit import Auditor
from secret_svc.domain import KeyVersionInfo, SecretRecord
from secret_svc.settings import SecretSettings
from secret_svc.vault import Vault

Context = Any


class SecretServicer(secret_pb2_grpc.SecretServiceServicer):
    """The secret vault over gRPC."""

    def __init__(self, vault: Vault, auditor: Auditor, settings: SecretSettings) -> None:
        self._vault = vault
        self._audit = auditor
        self._batch_size = settings.bodhi_rewrap_batch_size

    async def PutSecret(
        self, request: secret_pb2.PutSecretRequest, context: Context
    ) -> secret_pb2.PutSecretResponse:
        """Create or replace a secret."""
        ns, name = request.namespace, request.name
        async with self._audit.audited("put", ns, name, mutation=True) as entry:
            record, created = await self._vault.put(ns, name, request.value, entry)
        return secret_pb2.PutSecretResponse(metadata=_metadata(record), created=created)

    async def GetSecret(
        self, request: secret_pb2.GetSecretRequest, context: Context
    ) -> secret_pb2.GetSecretResponse:
        """A secret's value."""
        ns, name = request.namespace, request.name
        async with self._audit.audited("get", ns, name, mutation=False):
            value, record = await self._vault.get(ns, name)
        return secret_pb2.GetSecretResponse(value=value, metadata=_metadata(record))

    async def DeleteSecret(
        self, request: secret_pb2.DeleteSecretRequest, context: Context
    ) -> secret_pb2.DeleteSecretResponse:
        """Delete a secret (deleting one that is absent is not an error)."""
        ns, name = request.namespace, request.name
        async with self._audit.audited("delete", ns, name, mutation=True) as entry:
            deleted = await self._vault.delete(ns, name, entry)
        return secret_pb2.DeleteSecretResponse(deleted=deleted)

    async def ListSecrets(
        self, request: secret_pb2.ListSecretsRequest, context: Context
    ) -> secret_pb2.ListSecretsResponse:
        """Names and metadata of a namespace's secrets, never values."""
        page = page_of(request.page)
        async with self._audit.audited("list", request.namespace, None, mutation=False):
            records, total = await self._vault.list(
                request.namespace, request.name_prefix, page.size, page.offset
            )
        return secret_pb2.ListSecretsResponse(
            secrets=[_metadata(r) for r in records], page_info=page.info(total)
        )

    async def RotateKey(
        self, request: secret_pb2.RotateKeyRequest, context: Context
    ) -> secret_pb2.RotateKeyResponse:
        """A new current key version (admin)."""
        async with self._audit.audited("rotate", None, None, mutation=True, admin=True) as entry:
            version = await self._vault.rotate(entry)
            status = await self._vault.status()
        info = next(v for v in status.versions if v.version == version)
        return secret_pb2.RotateKeyResponse(key_version=_key_version(info))

    async def Rewrap(
        self, request: secret_pb2.RewrapRequest, context: Context
    ) -> secret_pb2.RewrapResponse:
        """Re-encrypt older records under the current version (admin)."""
        batch = request.batch_size or self._batch_size
        async with self._audit.audited("rewrap", None, None, mutation=False, admin=True):
            result = await self._vault.rewrap(batch, request.limit)
        return secret_pb2.RewrapResponse(
            target_version=result.target_version,
            rewrapped_count=result.rewrapped,
            batch_count=result.batches,
            remaining_count=result.remaining,
            failed_count=result.failed,
        )

    async def GetKeyStatus(
        self, request: secret_pb2.GetKeyStatusRequest, context: Context
    ) -> secret_pb2.GetKeyStatusResponse:
        """Key versions with record counts (admin)."""
        async with self._audit.audited("status", None, None, mutation=False, admin=True):
            status = await self._vault.status()
        return secret_pb2.GetKeyStatusResponse(
            current_version=status.current_version,
            min_decryption_version=status.min_version,
            key_versions=[_key_version(v) for v in status.versions],
        )

    async def SetMinDecryptionVersion(
        self, request: secret_pb2.SetMinDecryptionVersionRequest, context: Context
    ) -> secret_pb2.SetMinDecryptionVersionResponse:
        """Retire older key versions (admin)."""
        version = request.min_decryption_version
        async with self._audit.audited("retire", None, None, mutation=True, admin=True) as entry:
            stranded = await self._vault.retire_below(version, entry)
        return secret_pb2.SetMinDecryptionVersionResponse(
            min_decryption_version=version, stranded_count=stranded
        )


def _timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _metadata(record: SecretRecord) -> secret_pb2.SecretMetadata:
    return secret_pb2.SecretMetadata(
        namespace=record.namespace,
        name=record.name,
        key_version=record.key_version,
        size=record.size,
        created_at=_timestamp(record.created_at),
        updated_at=_timestamp(record.updated_at),
    )


def _key_version(info: KeyVersionInfo) -> secret_pb2.KeyVersion:
    return secret_pb2.KeyVersion(
        version=info.version,
        created_at=_timestamp(info.created_at),
        record_count=info.record_count,
        current=info.current,
        decryptable=info.decryptable,
    )
