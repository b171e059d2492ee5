"""The audit trail: who did what to which secret (the name only as an HMAC) and how it ended.

Writes that change a secret or a key commit their audit row in the same transaction (the vault
passes the entry to the store). Everything else — reads, refusals, failures — is queued and
written in batches, so a read costs no extra round trip; the queue is flushed on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import msgspec

from bodhi_common.clock import Clock
from bodhi_common.context import ADMIN_ROLE, current_caller
from bodhi_common.errors import InvalidArgument, PermissionDenied, ServiceError
from bodhi_common.tasks import cancel
from secret_svc import crypto
from secret_svc.domain import NAMESPACES, AuditEntry
from secret_svc.store import SecretStore

log = logging.getLogger(__name__)

_BATCH = 1000
_GATHER_SECONDS = 0.1
_MAX_PENDING = 10_000


class Auditor:
    """Makes audit entries for the current caller and writes the ones not written in a
    transaction; also prunes entries older than the retention period."""

    def __init__(self, store: SecretStore, key: bytes, clock: Clock, retention_days: int) -> None:
        self._store = store
        self._key = key
        self._clock = clock
        self._retention = timedelta(days=retention_days)
        self._pending: asyncio.Queue[AuditEntry] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Auditor:
        self._tasks = [asyncio.create_task(self._writer()), asyncio.create_task(self._pruner())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await cancel(*self._tasks)
        await self._flush()

    def entry(self, operation: str, namespace: str | None, name: str | None) -> AuditEntry:
        """An entry for the current caller, outcome "ok"."""
        caller = current_caller()
        digest = crypto.name_digest(self._key, namespace or "", name) if name else None
        return AuditEntry(
            at=datetime.fromtimestamp(self._clock.now(), UTC),
            caller=caller.service,
            principal=caller.principal.sub if caller.principal else None,
            operation=operation,
            namespace=namespace,
            name_hmac=digest,
            outcome="ok",
        )

    @contextlib.asynccontextmanager
    async def audited(
        self,
        operation: str,
        namespace: str | None,
        name: str | None,
        *,
        mutation: bool,
        admin: bool = False,
    ) -> AsyncIterator[AuditEntry]:
        """Authorise the caller (an admin, or the owner of `namespace`) and audit the outcome.
        A mutation's success is written by the vault in its own transaction."""
        entry = self.entry(operation, namespace, name)
        try:
            _authorise(namespace, admin)
            yield entry
        except ServiceError as exc:
            self.record(msgspec.structs.replace(entry, outcome=exc.code))
            raise
        except Exception:
            self.record(msgspec.structs.replace(entry, outcome="internal_error"))
            raise
        if not mutation:
            self.record(entry)

    def record(self, entry: AuditEntry) -> None:
        """Queue an entry for the batch writer."""
        if self._pending.qsize() >= _MAX_PENDING:
            log.error("audit queue full; dropping an entry", extra={"operation": entry.operation})
            return
        self._pending.put_nowait(entry)

    async def _writer(self) -> None:
        while True:
            batch = [await self._pending.get()]
            # Gather for a moment: one INSERT per 0.1 s instead of one per read.
            await asyncio.sleep(_GATHER_SECONDS)
            while len(batch) < _BATCH and not self._pending.empty():
                batch.append(self._pending.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[AuditEntry]) -> None:
        try:
            await self._store.insert_audit(batch)
        except Exception:
            log.warning("audit write failed; retrying", exc_info=True)
            for entry in batch:
                self.record(entry)
            await asyncio.sleep(1)

    async def _flush(self) -> None:
        batch = []
        while not self._pending.empty():
            batch.append(self._pending.get_nowait())
        if batch:
            await self._store.insert_audit(batch)

    async def _pruner(self) -> None:
        while True:
            before = datetime.fromtimestamp(self._clock.now(), UTC) - self._retention
            try:
                removed = await self._store.prune_audit(before)
                if removed:
                    log.info("pruned audit entries", extra={"removed": removed})
            except Exception:
                log.warning("audit pruning failed", exc_info=True)
            await asyncio.sleep(3600)


def _authorise(namespace: str | None, admin: bool) -> None:
    caller = current_caller()
    if admin:
        if caller.principal is None or caller.principal.role != ADMIN_ROLE:
            raise PermissionDenied("only an admin may manage the vault's keys", code="admin_only")
        return
    if namespace not in NAMESPACES:
        raise InvalidArgument(
            f"unknown namespace {namespace!r}", code="unknown_namespace", param="namespace"
        )
    if caller.service != namespace:
        raise PermissionDenied(
            f"{caller.service} may not use namespace {namespace!r}", code="namespace_forbidden"
        )
