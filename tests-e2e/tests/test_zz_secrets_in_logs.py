"""Runs after the other modules of the session stack (named to sort last): no log line of any
process holds a session id, an API token, a provider access or refresh token, or the OAuth
client secret (reliability-security.md X4, ASVS 16.2.5)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import msgspec
import redis

from bodhi.secret.v1 import secret_pb2, secret_pb2_grpc
from bodhi_common.clock import SystemClock
from bodhi_common.internal_auth import InternalAuth
from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient


def provider_tokens(stack: Stack) -> set[str]:
    """The access and refresh tokens of every live session."""
    found = set()
    with redis.Redis.from_url(stack.redis_url) as store:
        for key in store.scan_iter("bodhi:session:*"):
            session = msgspec.json.decode(store.get(key) or b"{}")
            found |= {session.get("access_token", ""), session.get("refresh_token", "")}
    return {token for token in found if token}


async def client_secret(stack: Stack) -> str:
    """The OAuth client secret auth-svc keeps in the vault (read as auth-svc would)."""
    assert stack.plan.internal_key is not None
    internal = InternalAuth(stack.plan.internal_key, "auth", SystemClock())
    address = f"127.0.0.1:{stack.plan.service_ports['secret']}"
    async with grpc.aio.insecure_channel(address) as channel:
        stub = secret_pb2_grpc.SecretServiceStub(channel)
        request = secret_pb2.GetSecretRequest(namespace="auth", name="oidc/client_secret")
        reply = await stub.GetSecret(request, metadata=internal.metadata("secret"), timeout=5)
    return str(reply.value.decode())


def test_no_log_line_holds_a_secret(admin: BodhiClient, stack: Stack, canaries: set[str]) -> None:
    secrets = canaries | provider_tokens(stack) | {asyncio.run(client_secret(stack))}
    assert len(canaries) >= 5  # the other modules ran and logged people in, made tokens
    log = Path(stack.plan.data_dir / "stack.log").read_text()
    assert "session tokens refreshed" in log  # the log is the real one, with real traffic
    leaked = sorted(secret[:12] + "…" for secret in secrets if secret in log)
    assert leaked == []
