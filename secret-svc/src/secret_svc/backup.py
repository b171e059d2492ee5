"""Sealed backups: every secret in one file, encrypted under a key stretched from a backup
passphrase (scrypt), independent of the vault's master key, so a backup restores into any vault."""

from __future__ import annotations

import base64
import os

import msgspec

from secret_svc import crypto

FORMAT = "bodhi-secret-backup/v1"
_AAD = FORMAT.encode()


class BackupEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One secret in a backup."""

    namespace: str
    name: str
    value: bytes


class BackupFile(msgspec.Struct, frozen=True, kw_only=True):
    """The file: what is needed to derive the key, and the sealed list of entries."""

    format: str
    scrypt: crypto.ScryptParams
    nonce: str  # base64
    ciphertext: str  # base64


class BackupError(Exception):
    """The file is not a backup, is damaged, or the passphrase is wrong."""


def seal_backup(entries: list[BackupEntry], passphrase: str) -> bytes:
    """The backup file's bytes (JSON)."""
    params = crypto.new_scrypt_params()
    key = crypto.stretch(passphrase, params)
    nonce = os.urandom(crypto.NONCE_BYTES)
    plaintext = msgspec.json.encode(entries)
    ciphertext = crypto.AESGCM(key).encrypt(nonce, plaintext, _AAD)
    return msgspec.json.encode(
        BackupFile(
            format=FORMAT,
            scrypt=params,
            nonce=base64.b64encode(nonce).decode(),
            ciphertext=base64.b64encode(ciphertext).decode(),
        )
    )


def open_backup(data: bytes, passphrase: str) -> list[BackupEntry]:
    """The entries of a backup file."""
    try:
        file = msgspec.json.decode(data, type=BackupFile)
    except msgspec.DecodeError:
        raise BackupError("not a secret-svc backup file") from None
    if file.format != FORMAT:
        raise BackupError(f"unsupported backup format {file.format!r}")
    key = crypto.stretch(passphrase, file.scrypt)
    try:
        plaintext = crypto.AESGCM(key).decrypt(
            base64.b64decode(file.nonce), base64.b64decode(file.ciphertext), _AAD
        )
    except crypto.InvalidTag:
        raise BackupError("wrong passphrase, or the backup is damaged") from None
    return msgspec.json.decode(plaintext, type=list[BackupEntry])
