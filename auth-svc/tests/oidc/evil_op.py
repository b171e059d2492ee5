"""An "evil OP": a scriptable OpenID provider over real HTTP (uvicorn, in-process) that serves
discovery, a JWK Set and token / registration / revocation endpoints, counts every request, and
mints whatever tokens a test asks for - well-formed or crafted - with joserfc or by hand."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry

from bodhi_common.clock import ManualClock

SigningKey = RSAKey | ECKey
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
CLIENT_ID = "bodhi-client"
NONCE = "n-0123456789"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: Any, sign: Callable[[bytes], bytes]) -> str:
    """A compact JWS put together by hand, for tokens joserfc refuses to make."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def rs256(key: RSAKey) -> Callable[[bytes], bytes]:
    private = key.private_key
    assert private is not None
    return lambda data: private.sign(data, padding.PKCS1v15(), hashes.SHA256())


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


@dataclass
class EvilOp:
    """State of the provider; tests change it between requests."""

    issuer: str
    keys: list[SigningKey]
    clock: ManualClock
    #: None: publish the public part of every signing key
    published: list[SigningKey] | None = None
    discovery_extra: dict[str, Any] = field(default_factory=dict)
    replies: dict[str, tuple[int, Any]] = field(default_factory=dict)
    down: bool = False
    delay: float = 0.0
    hits: Counter[str] = field(default_factory=Counter)
    requests: list[Recorded] = field(default_factory=list)
    #: the path of every request as it arrives (before any delay)
    arrivals: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    def discovery(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/auth",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "registration_endpoint": f"{base}/register",
            "revocation_endpoint": f"{base}/revoke",
            "end_session_endpoint": f"{base}/logout",
            "authorization_response_iss_parameter_supported": True,
            "grant_types_supported": ["authorization_code", "refresh_token"],
            **self.discovery_extra,
        }

    def jwks(self) -> dict[str, Any]:
        keys = self.keys if self.published is None else self.published
        return {"keys": [key.as_dict(private=False) for key in keys]}

    def id_claims(self, **changes: Any) -> dict[str, Any]:
        """A valid ID token's claims for CLIENT_ID and NONCE, issued now; None drops a claim."""
        now = int(self.clock.now())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            "nonce": NONCE,
            "preferred_username": "alice",
            **changes,
        }
        return {k: v for k, v in claims.items() if v is not None}

    def access_claims(self, **changes: Any) -> dict[str, Any]:
        """A third-party app's access token claims (RFC 9068 shape, Keycloak's azp)."""
        now = int(self.clock.now())
        claims = {
            "iss": self.issuer,
            "aud": "urn:bodhi:api",
            "sub": "user-1",
            "client_id": "third-party-app",
            "azp": "third-party-app",
            "scope": "openid scope_user_power_user",
            "iat": now,
            "exp": now + 300,
            **changes,
        }
        return {k: v for k, v in claims.items() if v is not None}

    def mint(
        self,
        claims: dict[str, Any],
        *,
        key: SigningKey | None = None,
        alg: str = "RS256",
        header: dict[str, Any] | None = None,
        kid: str | None = "default",
    ) -> str:
        """Sign with joserfc; `kid="default"` names the key's own kid, None leaves it out."""
        key = key or self.keys[0]
        head: dict[str, Any] = {"alg": alg, **(header or {})}
        if kid is not None:
            head["kid"] = key.kid if kid == "default" else kid
        # joserfc's own signing primitive, without its header checks: crafted headers must pass.
        algorithm = JWSRegistry.algorithms[alg]
        return raw_token(head, claims, lambda data: algorithm.sign(data, key))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.hits[scope["path"]] += 1
        self.requests.append(Recorded(scope["method"], scope["path"], headers, body))
        self.arrivals.put_nowait(scope["path"])
        if self.delay:
            await asyncio.sleep(self.delay)
        status, payload = self._answer(scope["path"])
        await _respond(send, status, payload)

    def _answer(self, path: str) -> tuple[int, Any]:
        if self.down:
            return 503, {"error": "temporarily_unavailable"}
        if path in self.replies:
            return self.replies[path]
        if path == "/.well-known/openid-configuration":
            return 200, self.discovery()
        if path == "/jwks":
            return 200, self.jwks()
        return 404, {"error": "not_found"}


async def _respond(send: Send, status: int, payload: Any) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if isinstance(payload, dict) and "location" in payload:
        headers.append((b"location", str(payload["location"]).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


@contextlib.asynccontextmanager
async def serving(keys: list[SigningKey], clock: ManualClock) -> AsyncIterator[EvilOp]:
    """Run an EvilOp on a free loopback port for the duration of the block."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Without it every response waits ~40 ms for a delayed ACK (headers and body are two writes).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    op = EvilOp(issuer=f"http://127.0.0.1:{sock.getsockname()[1]}", keys=list(keys), clock=clock)
    config = uvicorn.Config(op, log_level="warning", lifespan="off")
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    # Started and stopped by hand: serve() polls should_exit every 0.1 s and shutdown() sleeps
    # 0.1 s, which together tripled the time of this folder.
    await server.startup(sockets=[sock])
    try:
        yield op
    finally:
        for listening in server.servers:
            listening.close()
        for connection in list(server.server_state.connections):
            connection.shutdown()
        for listening in server.servers:
            await listening.wait_closed()
        sock.close()


class Listener:
    """A TCP listener that only counts connections: where a token's jku/x5u point."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/keys.json"

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()
