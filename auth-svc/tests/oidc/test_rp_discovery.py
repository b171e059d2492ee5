"""Discovery: exact issuer match (conformance `discovery-issuer-mismatch`), endpoint checks,
the metadata cache, transport failures, and the authorization URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from evil_op import EvilOp

from auth_svc.oidc import OidcProvider, ProviderMetadata
from auth_svc.oidc.metadata import parse_metadata
from bodhi_common.clock import ManualClock
from bodhi_common.errors import FailedPrecondition, InvalidArgument, Unavailable

DISCOVERY = "/.well-known/openid-configuration"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B


async def test_metadata_is_read(rp: OidcProvider, evil: EvilOp) -> None:
    assert await rp.metadata() == ProviderMetadata(
        issuer=evil.issuer,
        authorization_endpoint=f"{evil.issuer}/auth",
        token_endpoint=f"{evil.issuer}/token",
        jwks_uri=f"{evil.issuer}/jwks",
        registration_endpoint=f"{evil.issuer}/register",
        revocation_endpoint=f"{evil.issuer}/revoke",
        end_session_endpoint=f"{evil.issuer}/logout",
        iss_parameter_supported=True,
        token_exchange_supported=False,
    )


@pytest.mark.parametrize("issuer", ["http://evil.example", "{issuer}/", "{issuer}/realms/x", None])
async def test_discovery_for_another_issuer_is_refused(
    rp: OidcProvider, evil: EvilOp, issuer: str | None
) -> None:
    evil.discovery_extra["issuer"] = issuer and issuer.format(issuer=evil.issuer)
    with pytest.raises(FailedPrecondition) as caught:
        await rp.metadata()
    assert caught.value.code == "issuer_mismatch"
    with pytest.raises(FailedPrecondition):
        await rp.verify_id_token("a.b.c", client_id="c", nonce="n")
    assert set(evil.hits) == {DISCOVERY}  # nothing named by that document was ever fetched


@pytest.mark.parametrize(
    "change",
    [
        {"jwks_uri": None},
        {"token_endpoint": "/relative/token"},
        {"authorization_endpoint": "ftp://host/auth"},
        {"jwks_uri": 42},
        {"revocation_endpoint": "javascript:alert(1)"},
    ],
)
async def test_malformed_endpoints_are_refused(
    rp: OidcProvider, evil: EvilOp, change: dict[str, Any]
) -> None:
    evil.discovery_extra.update(change)
    with pytest.raises(FailedPrecondition) as caught:
        await rp.metadata()
    assert caught.value.code == "provider_metadata_invalid"


def test_an_https_issuer_needs_https_endpoints() -> None:
    base = "https://id.example"
    doc = {
        "issuer": base,
        "authorization_endpoint": f"{base}/auth",
        "token_endpoint": "http://id.example/token",
        "jwks_uri": f"{base}/jwks",
    }
    with pytest.raises(FailedPrecondition, match="token_endpoint"):
        parse_metadata(doc, base)
    meta = parse_metadata({**doc, "token_endpoint": f"{base}/token"}, base)
    assert (meta.registration_endpoint, meta.iss_parameter_supported) == (None, False)


async def test_token_exchange_is_read_from_grant_types(rp: OidcProvider, evil: EvilOp) -> None:
    grant = "urn:ietf:params:oauth:grant-type:token-exchange"
    evil.discovery_extra["grant_types_supported"] = ["authorization_code", grant]
    assert (await rp.metadata()).token_exchange_supported


async def test_metadata_is_cached_for_its_ttl(
    evil: EvilOp, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    rp = OidcProvider(evil.issuer, http, clock, metadata_ttl=60)
    await rp.metadata()
    clock.advance(59)
    await rp.metadata()
    assert evil.hits[DISCOVERY] == 1
    clock.advance(2)
    await rp.metadata()
    assert evil.hits[DISCOVERY] == 2


@pytest.mark.parametrize(
    "reply", [(503, {}), (500, b"oops"), (429, {}), (200, b"<html>"), (404, {}), (302, {})]
)
async def test_broken_discovery_is_unavailable(
    rp: OidcProvider, evil: EvilOp, reply: tuple[int, Any]
) -> None:
    evil.replies[DISCOVERY] = reply
    with pytest.raises(Unavailable) as caught:
        await rp.metadata()
    assert caught.value.code == "provider_unavailable"


async def test_a_huge_discovery_document_is_refused(rp: OidcProvider, evil: EvilOp) -> None:
    evil.discovery_extra["padding"] = "x" * 300_000
    with pytest.raises(Unavailable, match="too large"):
        await rp.metadata()


async def test_a_slow_provider_times_out(evil: EvilOp, clock: ManualClock) -> None:
    evil.delay = 1.0
    async with httpx.AsyncClient(timeout=0.1) as http:
        with pytest.raises(Unavailable, match="timed out"):
            await OidcProvider(evil.issuer, http, clock).metadata()


async def test_an_unreachable_provider_is_unavailable(
    http: httpx.AsyncClient, clock: ManualClock
) -> None:
    rp = OidcProvider("http://127.0.0.1:9", http, clock)  # discard port: nothing listens
    with pytest.raises(Unavailable) as caught:
        await rp.metadata()
    assert caught.value.code == "provider_unavailable"


def test_the_issuer_must_be_a_url(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="http"):
        OidcProvider("id.example", http, ManualClock())


async def test_authorization_url(rp: OidcProvider, evil: EvilOp) -> None:
    evil.discovery_extra["authorization_endpoint"] = f"{evil.issuer}/auth?p=b2c_policy&state=x"
    meta = await rp.metadata()
    redirect = "http://127.0.0.1:1135/ui/auth/callback?a=1&b=2"
    request = {"client_id": "my app", "redirect_uri": redirect, "state": "s t", "nonce": "n&1"}
    url = rp.authorization_url(meta, code_challenge=CHALLENGE, **request)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{evil.issuer}/auth"
    assert "+" not in parts.query  # spaces as %20
    assert parse_qs(parts.query) == {
        "p": ["b2c_policy"],
        "response_type": ["code"],
        "client_id": ["my app"],
        "redirect_uri": [redirect],
        "scope": ["openid profile email offline_access"],
        "state": ["s t"],
        "nonce": ["n&1"],
        "code_challenge": [CHALLENGE],
        "code_challenge_method": ["S256"],
    }


@pytest.mark.parametrize(
    ("state", "nonce", "challenge"),
    [("", "n", CHALLENGE), ("s", "", CHALLENGE), ("s", "n", "plain-verifier"), ("s", "n", "")],
)
async def test_authorization_url_needs_state_nonce_and_s256(
    rp: OidcProvider, state: str, nonce: str, challenge: str
) -> None:
    meta = await rp.metadata()
    with pytest.raises(InvalidArgument):
        rp.authorization_url(
            meta,
            client_id="c",
            redirect_uri="http://x/cb",
            state=state,
            nonce=nonce,
            code_challenge=challenge,
        )
