"""The vault's cryptography, and nothing else.

- Key-encryption keys (KEKs), one per key version, are random 256-bit keys wrapped by the master
  key with AES-256-GCM; the associated data names the version, so a wrapped key cannot be moved
  to another version.
- Each record is sealed with AES-256-GCM under a per-record key derived from its version's KEK by
  HKDF-SHA256 with a fresh random salt, and a fresh random nonce on every write. The associated
  data binds the ciphertext to its namespace, name and key version: copied to another row, it
  fails to open.
- Nothing here stretches a key per call (HKDF and AES-GCM cost microseconds); a passphrase is
  stretched once, at start-up, with scrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
_RECORD_INFO = b"bodhi-secret-record/v1"
_AUDIT_INFO = b"bodhi-secret-audit/v1"

__all__ = ["AESGCM", "InvalidTag"]  # re-exported for backup.py and the error of every open


class Sealed(msgspec.Struct, frozen=True, kw_only=True):
    """A sealed record: its HKDF salt, its GCM nonce and the ciphertext with its tag."""

    salt: bytes
    nonce: bytes
    ciphertext: bytes


class ScryptParams(msgspec.Struct, frozen=True, kw_only=True):
    """How a passphrase was stretched (kept with the vault so the same key comes out again)."""

    salt: str  # base64
    n: int = 2**17  # ASVS 5.0 appendix C: N >= 2^17, r = 8, p = 1
    r: int = 8
    p: int = 1


def random_key() -> bytes:
    """A fresh 256-bit key."""
    return os.urandom(KEY_BYTES)


def wrap_key(master: bytes, version: int, kek: bytes) -> tuple[bytes, bytes]:
    """(nonce, wrapped) of a version's KEK under the master key."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(master).encrypt(nonce, kek, _kek_aad(version))


def unwrap_key(master: bytes, version: int, nonce: bytes, wrapped: bytes) -> bytes:
    """The KEK of `version`; InvalidTag when the master key (or the row) is not the right one."""
    return AESGCM(master).decrypt(nonce, wrapped, _kek_aad(version))


def _kek_aad(version: int) -> bytes:
    return b"bodhi-kek/v1:%d" % version


def record_aad(namespace: str, name: str, version: int) -> bytes:
    """Associated data of a record: unambiguous (JSON), so no two triples encode alike."""
    return msgspec.json.encode(["bodhi-secret/v1", namespace, name, version])


def seal(kek: bytes, aad: bytes, plaintext: bytes) -> Sealed:
    """Encrypt under a fresh per-record key and a fresh nonce."""
    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(_record_key(kek, salt)).encrypt(nonce, plaintext, aad)
    return Sealed(salt=salt, nonce=nonce, ciphertext=ciphertext)


def open_sealed(kek: bytes, aad: bytes, sealed: Sealed) -> bytes:
    """The plaintext; InvalidTag when any byte of ciphertext, nonce, salt or AAD differs."""
    return AESGCM(_record_key(kek, sealed.salt)).decrypt(sealed.nonce, sealed.ciphertext, aad)


def _record_key(kek: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=_RECORD_INFO).derive(
        kek
    )


def audit_key(master: bytes) -> bytes:
    """The key of the audit trail's name digests (stable for a master key, useless without it)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_AUDIT_INFO).derive(
        master
    )


def name_digest(key: bytes, namespace: str, name: str) -> str:
    """HMAC-SHA256 of a secret's address: lets an auditor match events without the name."""
    return hmac.new(key, record_aad(namespace, name, 0), hashlib.sha256).hexdigest()


def new_scrypt_params() -> ScryptParams:
    """Parameters for a new passphrase-protected vault (about 0.4 s and 128 MiB here)."""
    return ScryptParams(salt=base64.b64encode(os.urandom(SALT_BYTES)).decode())


def stretch(passphrase: str, params: ScryptParams) -> bytes:
    """The master key from a passphrase; run once at start-up."""
    return hashlib.scrypt(
        passphrase.encode(),
        salt=base64.b64decode(params.salt),
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=256 * 1024 * 1024,
        dklen=KEY_BYTES,
    )
