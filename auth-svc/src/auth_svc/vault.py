"""auth-svc's secrets in secret-svc (namespace `auth`): the OAuth client secret."""

from __future__ import annotations

import grpc

from bodhi.secret.v1 import secret_pb2, secret_pb2_grpc
from bodhi_common.downstream import call
from bodhi_common.errors import NotFound
from bodhi_common.internal_auth import InternalAuth

NAMESPACE = "auth"


class Vault:
    """Put and get auth's secrets; values are cached in memory once read (they change only at
    setup, which writes through this cache)."""

    def __init__(self, channel: grpc.aio.Channel, internal: InternalAuth, timeout: float) -> None:
        self._stub = secret_pb2_grpc.SecretServiceStub(channel)
        self._internal = internal
        self._timeout = timeout
        self._cache: dict[str, bytes] = {}

    async def put(self, name: str, value: bytes) -> None:
        """Store a secret."""
        request = secret_pb2.PutSecretRequest(namespace=NAMESPACE, name=name, value=value)
        metadata, timeout = self._internal.metadata("secret"), self._timeout
        await call("secret", self._stub.PutSecret(request, metadata=metadata, timeout=timeout))
        self._cache[name] = value

    async def get(self, name: str) -> bytes | None:
        """A secret's value, or None when it was never stored."""
        if name in self._cache:
            return self._cache[name]
        request = secret_pb2.GetSecretRequest(namespace=NAMESPACE, name=name)
        try:
            metadata, timeout = self._internal.metadata("secret"), self._timeout
            reply = await call(
                "secret", self._stub.GetSecret(request, metadata=metadata, timeout=timeout)
            )
        except NotFound:
            return None
        self._cache[name] = reply.value
        return reply.value
