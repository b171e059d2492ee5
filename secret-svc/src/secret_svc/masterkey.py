"""Where the master key comes from: BODHI_MASTER_KEY, a key file, a passphrase (stretched once
with scrypt, parameters kept in the vault) or, when none is configured, the OS keyring (the
original's KeyringService: made on first use, persistent).

Every failure is a StartupError with one line; nothing here writes to the vault.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from pathlib import Path
from typing import Literal, Protocol

import msgspec

from bodhi_common.errors import StartupError
from secret_svc import crypto
from secret_svc.settings import SecretSettings

KEYRING_ACCOUNT = "master-key"
Kind = Literal["key", "passphrase"]


class KeyringBackend(Protocol):
    """The part of a `keyring` backend the vault uses."""

    def get_password(self, service: str, username: str) -> str | None:
        """The stored value, or None."""
        ...

    def set_password(self, service: str, username: str, password: str) -> None:
        """Store a value."""
        ...


class MasterKey(msgspec.Struct, frozen=True, kw_only=True):
    """The master key and how it was obtained (recorded with a new vault)."""

    key: bytes
    kind: Kind
    scrypt: crypto.ScryptParams | None = None


def configured_kind(settings: SecretSettings) -> Kind:
    """Whether the settings give a key or a passphrase (the keyring holds a key)."""
    return "passphrase" if settings.bodhi_master_passphrase is not None else "key"


async def obtain(
    settings: SecretSettings,
    stored: crypto.ScryptParams | None,
    vault_exists: bool,
    keyring: KeyringBackend | None,
) -> MasterKey:
    """The master key for this vault. `stored` holds the vault's scrypt parameters, if any."""
    if settings.bodhi_master_passphrase is not None:
        params = stored or crypto.new_scrypt_params()
        key = await asyncio.to_thread(crypto.stretch, settings.bodhi_master_passphrase, params)
        return MasterKey(key=key, kind="passphrase", scrypt=params)
    if settings.bodhi_master_key is not None:
        return MasterKey(key=_decode(settings.bodhi_master_key, "BODHI_MASTER_KEY"), kind="key")
    if settings.bodhi_master_key_file is not None:
        text = _read(settings.bodhi_master_key_file)
        return MasterKey(key=_decode(text, "the key in BODHI_MASTER_KEY_FILE"), kind="key")
    text = await asyncio.to_thread(_from_keyring, settings, vault_exists, keyring)
    return MasterKey(key=_decode(text, "the key in the OS keyring"), kind="key")


def _decode(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != crypto.KEY_BYTES:
        raise StartupError(f"{what} must be base64 of {crypto.KEY_BYTES} random bytes")
    return key


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise StartupError(f"cannot read BODHI_MASTER_KEY_FILE {path}: {exc.strerror}") from None


def _from_keyring(
    settings: SecretSettings, vault_exists: bool, keyring: KeyringBackend | None
) -> str:
    backend = keyring if keyring is not None else _default_keyring()
    service = settings.bodhi_keyring_service
    try:
        text = backend.get_password(service, KEYRING_ACCOUNT)
        if text is None and vault_exists:
            # A new key would not open the vault; never make one for existing data.
            raise StartupError(
                f"the OS keyring has no master key under {service!r} for this existing vault; "
                "set BODHI_MASTER_KEY, BODHI_MASTER_KEY_FILE or BODHI_MASTER_PASSPHRASE"
            )
        if text is None:
            text = base64.b64encode(crypto.random_key()).decode()
            backend.set_password(service, KEYRING_ACCOUNT, text)
    except StartupError:
        raise
    except Exception as exc:
        raise StartupError(
            "no master key configured and the OS keyring is not usable "
            f"({type(exc).__name__}); set BODHI_MASTER_KEY, BODHI_MASTER_KEY_FILE or "
            "BODHI_MASTER_PASSPHRASE"
        ) from None
    return text


def _default_keyring() -> KeyringBackend:
    # Imported only when no key is configured: it is slow and probes DBus.
    import keyring

    backend = keyring.get_keyring()
    # Below priority 1 are the fail backend and plaintext files in the home directory: neither
    # is a place for a master key.
    if getattr(backend, "priority", 0) < 1:
        raise RuntimeError(f"no secure OS keyring ({type(backend).__name__})")
    chosen: KeyringBackend = backend
    return chosen
