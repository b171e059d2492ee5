"""Fixtures of the OpenID relying-party tests: signing keys, a manual clock, the evil OP."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from evil_op import EvilOp, serving
from joserfc.jwk import ECKey, RSAKey

from auth_svc.oidc import OidcProvider
from bodhi_common.clock import ManualClock


@dataclass(frozen=True)
class Keyring:
    rsa: RSAKey
    rsa2: RSAKey
    ec: ECKey
    attacker_rsa: RSAKey
    attacker_ec: ECKey


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    """Keys made once per session: RSA generation is the slow part of these tests."""

    def rsa(kid: str) -> RSAKey:
        return RSAKey.generate_key(2048, {"kid": kid, "use": "sig"})

    def ec(kid: str) -> ECKey:
        return ECKey.generate_key("P-256", {"kid": kid, "use": "sig"})

    return Keyring(rsa("op-rsa-1"), rsa("op-rsa-2"), ec("op-ec-1"), rsa("evil-rsa"), ec("evil-ec"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def evil(keyring: Keyring, clock: ManualClock) -> AsyncIterator[EvilOp]:
    async with serving([keyring.rsa], clock) as op:
        yield op


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    """One TLS context for all clients: building one costs ~30 ms (the CA bundle)."""
    return ssl.create_default_context()


@pytest.fixture
async def http(tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0), verify=tls) as client:
        yield client


@pytest.fixture
def rp(evil: EvilOp, http: httpx.AsyncClient, clock: ManualClock) -> OidcProvider:
    """The relying party under test, pointed at the evil OP."""
    return OidcProvider(evil.issuer, http, clock)
