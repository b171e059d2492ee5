"""The provider's signing keys: read only from its `jwks_uri`, cached, refetched sparingly.

Rules (reliability-security.md A3, G8):
- a token's `kid` is only a lookup key into this cache; nothing a token names is ever fetched;
- an unknown `kid` triggers at most one refetch per `cooldown` (per provider, on the injected
  clock), so random kids cannot turn us into a request amplifier;
- a failed fetch keeps the last good keys, and the next attempt waits `backoff`;
- the keys are re-read after `max_age` so a key the provider withdrew stops being trusted.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

from auth_svc.oidc.transport import unavailable
from bodhi_common.clock import Clock
from bodhi_common.errors import ServiceError

log = logging.getLogger(__name__)

PublicKey = RSAKey | ECKey | OKPKey
#: Asymmetric signature algorithms we can be configured with, and the key type each needs.
KEY_TYPE_OF = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), "RSA"),
    **dict.fromkeys(("ES256", "ES384", "ES512"), "EC"),
    "EdDSA": "OKP",
    "Ed25519": "OKP",
}
MAX_KEYS = 32


def import_jwks(doc: dict[str, Any]) -> list[PublicKey]:
    """The usable signature keys of a JWK Set (symmetric, encryption and malformed keys skipped)."""
    entries = doc.get("keys")
    if not isinstance(entries, list):
        raise unavailable("signing keys: not a JWK Set")
    keys = [key for entry in entries[:MAX_KEYS] if (key := _import(entry)) is not None]
    if not keys:
        raise unavailable("signing keys: no usable key")
    return keys


def _import(entry: object) -> PublicKey | None:
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    if entry.get("kty") not in ("RSA", "EC", "OKP"):
        return None  # an "oct" key in a public JWK Set is at best a mistake: never trust one
    try:
        key = JWKRegistry.import_key(entry)
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    return key if isinstance(key, RSAKey | ECKey | OKPKey) else None


def matching(keys: list[PublicKey], kid: str | None, alg: str) -> list[PublicKey]:
    """Keys that may have signed a token with this header: same `kid` (any when absent), fitting
    the algorithm's key type and the key's own `alg` when it declares one."""
    return [
        key
        for key in keys
        if (kid is None or key.kid == kid)
        and key.key_type == KEY_TYPE_OF.get(alg)
        and key.alg in (None, alg)
    ]


class KeyCache:
    """The JWK Set of one provider, with the refetch rules of the module docstring."""

    def __init__(
        self,
        load: Callable[[], Awaitable[dict[str, Any]]],
        clock: Clock,
        *,
        cooldown: float,
        backoff: float,
        max_age: float,
    ) -> None:
        self._load = load
        self._clock = clock
        self._cooldown = cooldown
        self._backoff = backoff
        self._max_age = max_age
        self._keys: list[PublicKey] | None = None
        self._loaded_at = -math.inf
        self._missed_at = -math.inf
        self._failed_at = -math.inf
        self._failed = False
        self._generation = 0
        self._lock = asyncio.Lock()

    async def candidates(self, kid: str | None, alg: str) -> list[PublicKey]:
        """Keys to try for a token header; empty when none fits, even after an allowed refetch."""
        keys = await self._current()
        found = matching(keys, kid, alg)
        if found:
            return found
        await self._fetch(miss=True)
        found = matching(self._keys or keys, kid, alg)
        if not found and self._failed:
            # The key may be new and the provider is down: say so rather than "invalid token".
            raise unavailable("signing keys")
        return found

    async def _current(self) -> list[PublicKey]:
        stale = self._clock.monotonic() >= self._loaded_at + self._max_age
        # Stale keys are used as they are while another caller refreshes them.
        if self._keys is None or (stale and not self._lock.locked()):
            await self._fetch(miss=False)
        if self._keys is None:
            raise unavailable("signing keys")
        return self._keys

    async def _fetch(self, *, miss: bool) -> None:
        """Fetch once for all concurrent callers, unless a gate (cooldown, backoff) is closed."""
        seen = self._generation
        async with self._lock:
            now = self._clock.monotonic()
            if self._generation != seen or now < self._failed_at + self._backoff:
                return  # someone fetched while we waited, or the provider failed a moment ago
            if miss and now < self._missed_at + self._cooldown:
                return
            if miss:
                self._missed_at = now
            try:
                self._keys = import_jwks(await self._load())
            except ServiceError as exc:  # unreachable, malformed, or discovery refused
                self._failed, self._failed_at = True, now
                log.warning("oidc signing keys fetch failed (%s)", exc.message)
                return
            finally:
                # Bumped when the fetch is over, so that everyone who queued behind it skips.
                self._generation += 1
            self._failed, self._loaded_at = False, now
