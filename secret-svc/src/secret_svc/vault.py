"""The vault: opens with the master key (refusing a wrong one), seals and opens secrets under
versioned keys, rotates, rewraps and retires versions. Callers and audit entries come in from
the servicer or the CLI; the vault does not know who is asking."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bodhi_common.clock import Clock
from bodhi_common.errors import (
    DataLoss,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    StartupError,
)
from secret_svc import crypto, masterkey
from secret_svc.domain import (
    MAX_NAME_LENGTH,
    AuditEntry,
    KeyStatus,
    RewrapResult,
    SecretRecord,
    StoredSecret,
    VaultState,
    WrappedKey,
)
from secret_svc.settings import SecretSettings
from secret_svc.store import SecretStore

log = logging.getLogger(__name__)

#: How long a replica trusts its copy of the vault row before reading it again.
STATE_TTL_SECONDS = 5.0


class Vault:
    """Secrets sealed under versioned keys; see crypto.py for the scheme."""

    def __init__(
        self,
        store: SecretStore,
        master: bytes,
        state: VaultState,
        settings: SecretSettings,
        clock: Clock,
    ) -> None:
        self._store = store
        self._master = master
        self._state = state
        self._settings = settings
        self._clock = clock
        self._state_read_at = clock.monotonic()
        self._keks: dict[int, bytes] = {}
        self.audit_key = crypto.audit_key(master)

    @classmethod
    async def open(
        cls,
        store: SecretStore,
        settings: SecretSettings,
        clock: Clock,
        keyring: masterkey.KeyringBackend | None = None,
    ) -> Vault:
        """Obtain the master key, create the vault on first start, and unwrap every usable key
        version; a master key that does not open them stops the start, changing nothing."""
        state = await store.vault_state()
        master = await masterkey.obtain(
            settings, state.scrypt if state else None, state is not None, keyring
        )
        if state is None:
            state = await cls._create(store, master, clock)
        if state.master_kind != master.kind:
            raise StartupError(
                f"this vault's master key is a {state.master_kind}, but a {master.kind} is "
                "configured; refusing to start (nothing was changed)"
            )
        vault = cls(store, master.key, state, settings, clock)
        await vault._unwrap_all()
        return vault

    @staticmethod
    async def _create(store: SecretStore, master: masterkey.MasterKey, clock: Clock) -> VaultState:
        state = VaultState(
            master_kind=master.kind, scrypt=master.scrypt, current_version=1, min_version=1
        )
        first = _wrapped(master.key, 1, crypto.random_key())
        if await store.create_vault(state, first, _utc(clock.now())):
            log.info("created a new vault", extra={"master_kind": master.kind})
            return state
        # Another replica created it first: use theirs (and their scrypt salt).
        theirs = await store.vault_state()
        assert theirs is not None
        if theirs.scrypt is not None and master.kind == "passphrase":
            raise StartupError("another replica created the vault at the same moment; start again")
        return theirs

    async def _unwrap_all(self) -> None:
        for key in await self._store.wrapped_keys(self._state.min_version):
            self._keks[key.version] = self._unwrap(key)

    def _unwrap(self, key: WrappedKey) -> bytes:
        try:
            return crypto.unwrap_key(self._master, key.version, key.nonce, key.wrapped)
        except crypto.InvalidTag:
            raise StartupError(
                f"the master key does not open this vault (key version {key.version}); "
                "refusing to start (nothing was changed)"
            ) from None

    async def _fresh(self, force: bool = False) -> VaultState:
        age = self._clock.monotonic() - self._state_read_at
        if force or age > STATE_TTL_SECONDS:
            state = await self._store.vault_state()
            assert state is not None
            self._state, self._state_read_at = state, self._clock.monotonic()
        return self._state

    async def _kek(self, version: int) -> bytes:
        kek = self._keks.get(version)
        if kek is None:  # a version another replica (or the CLI) created since we started
            await self._unwrap_all()
            kek = self._keks[version]
        return kek

    async def put(
        self, namespace: str, name: str, value: bytes, audit: AuditEntry
    ) -> tuple[SecretRecord, bool]:
        """Store a value under the current key version; (metadata, created)."""
        _check_name(name)
        if len(value) > self._settings.bodhi_secret_max_bytes:
            raise InvalidArgument(
                f"the value is larger than {self._settings.bodhi_secret_max_bytes} bytes",
                code="secret_too_large",
                param="value",
            )
        for force in (False, True):
            version = (await self._fresh(force)).current_version
            aad = crypto.record_aad(namespace, name, version)
            sealed = crypto.seal(await self._kek(version), aad, value)
            stored = await self._store.put((namespace, name, version), sealed, len(value), audit)
            if stored is not None:
                return stored
        raise FailedPrecondition("the key version changed during the write; try again")

    async def get(self, namespace: str, name: str) -> tuple[bytes, SecretRecord]:
        """The decrypted value and metadata."""
        _check_name(name)
        stored = await self._store.get(namespace, name)
        if stored is None:
            raise NotFound(f"secret {name!r} not found", code="secret_not_found", param="name")
        return await self._open(stored), stored.record

    async def _open(self, stored: StoredSecret) -> bytes:
        record = stored.record
        version = record.key_version
        if version < self._state.min_version or version < (await self._fresh()).min_version:
            raise FailedPrecondition(
                f"secret {record.name!r} is under retired key version {version}",
                code="key_version_retired",
            )
        aad = crypto.record_aad(record.namespace, record.name, version)
        try:
            return crypto.open_sealed(await self._kek(version), aad, stored.sealed)
        except crypto.InvalidTag:
            raise DataLoss(
                f"secret {record.name!r} cannot be decrypted: its stored data is corrupt",
                code="secret_corrupt",
            ) from None

    async def delete(self, namespace: str, name: str, audit: AuditEntry) -> bool:
        """Remove a secret; False when there was none."""
        _check_name(name)
        return await self._store.delete(namespace, name, audit)

    async def list(
        self, namespace: str, prefix: str, limit: int, offset: int
    ) -> tuple[list[SecretRecord], int]:
        """One page of metadata (never values) and the total."""
        return await self._store.list(namespace, prefix, limit, offset)

    async def rotate(self, audit: AuditEntry) -> int:
        """A new key version, current from now on; returns it."""
        version = await self._store.rotate(
            lambda v: _wrapped(self._master, v, crypto.random_key()), audit
        )
        await self._unwrap_all()
        await self._fresh(force=True)
        return version

    async def rewrap(self, batch_size: int, limit: int) -> RewrapResult:
        """Re-seal records under older versions with the current one, batch by batch (each
        batch commits on its own, so an interrupted run loses nothing and a re-run resumes)."""
        state = await self._fresh(force=True)
        target, kek = state.current_version, await self._kek(state.current_version)
        done = failed = batches = 0
        after: tuple[str, str] | None = ("", "")
        while after is not None and (limit <= 0 or done < limit):
            size = batch_size if limit <= 0 else min(batch_size, limit - done)
            reseal = self._resealer(target, kek)
            rewrapped, skipped, after = await self._store.rewrap_batch(
                (state.min_version, target), after, size, reseal
            )
            done, failed, batches = (
                done + rewrapped,
                failed + skipped,
                batches + (after is not None),
            )
        remaining = await self._store.count_below(target)
        return RewrapResult(
            target_version=target,
            rewrapped=done,
            batches=batches,
            remaining=remaining,
            failed=failed,
        )

    def _resealer(self, target: int, kek: bytes) -> Callable[[StoredSecret], crypto.Sealed | None]:
        def reseal(stored: StoredSecret) -> crypto.Sealed | None:
            record = stored.record
            old = self._keks.get(record.key_version)
            if old is None:
                return None
            try:
                value = crypto.open_sealed(
                    old, crypto.record_aad(record.namespace, record.name, record.key_version),
                    stored.sealed,
                )  # fmt: skip
            except crypto.InvalidTag:
                log.warning("rewrap skipped a corrupt record", extra={"key_version": target})
                return None
            return crypto.seal(kek, crypto.record_aad(record.namespace, record.name, target), value)

        return reseal

    async def status(self) -> KeyStatus:
        """Key versions and record counts."""
        return await self._store.status()

    async def retire_below(self, version: int, audit: AuditEntry) -> int:
        """Make `version` the lowest decryptable one; returns records stranded below it."""
        stranded = await self._store.set_min_version(version, audit)
        await self._fresh(force=True)
        for old in [v for v in self._keks if v < version]:
            del self._keks[old]
        return stranded


def _wrapped(master: bytes, version: int, kek: bytes) -> WrappedKey:
    nonce, wrapped = crypto.wrap_key(master, version, kek)
    return WrappedKey(version=version, nonce=nonce, wrapped=wrapped)


def _check_name(name: str) -> None:
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise InvalidArgument(
            f"a secret name is 1 to {MAX_NAME_LENGTH} printable characters",
            code="invalid_secret_name",
            param="name",
        )


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
