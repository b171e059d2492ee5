"""A service's own secrets in secret-svc: its namespace is the service's name (secret-svc lets a
service read and write only that one), values cached in memory."""

from __future__ import annotations

import grpc

from bodhi.secret.v1 import secret_pb2, secret_pb2_grpc
from bodhi_common.clock import Clock
from bodhi_common.downstream import call
from bodhi_common.errors import NotFound
from bodhi_common.internal_auth import InternalAuth


class Vault:
    """Put, get and delete one namespace's secrets. A value read (or found absent) is cached for
    `cache_seconds` (None: until this process changes it, for secrets only one writer changes);
    writes go through the cache."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        internal: InternalAuth,
        timeout: float,
        *,
        namespace: str,
        clock: Clock,
        cache_seconds: float | None = None,
    ) -> None:
        self._stub = secret_pb2_grpc.SecretServiceStub(channel)
        self._internal = internal
        self._timeout = timeout
        self._namespace = namespace
        self._clock = clock
        self._ttl = cache_seconds
        self._cache: dict[str, tuple[bytes | None, float]] = {}  # name -> (value, read at)

    async def put(self, name: str, value: bytes) -> None:
        """Store a secret."""
        request = secret_pb2.PutSecretRequest(namespace=self._namespace, name=name, value=value)
        metadata, timeout = self._internal.metadata("secret"), self._timeout
        await call("secret", self._stub.PutSecret(request, metadata=metadata, timeout=timeout))
        self._remember(name, value)

    async def get(self, name: str) -> bytes | None:
        """A secret's value, or None when none is stored."""
        cached = self._cache.get(name)
        if cached is not None and (
            self._ttl is None or self._clock.monotonic() - cached[1] < self._ttl
        ):
            return cached[0]
        request = secret_pb2.GetSecretRequest(namespace=self._namespace, name=name)
        metadata, timeout = self._internal.metadata("secret"), self._timeout
        try:
            reply = await call(
                "secret", self._stub.GetSecret(request, metadata=metadata, timeout=timeout)
            )
        except NotFound:
            self._remember(name, None)
            return None
        self._remember(name, reply.value)
        return reply.value

    async def delete(self, name: str) -> bool:
        """Delete a secret; whether one was stored."""
        request = secret_pb2.DeleteSecretRequest(namespace=self._namespace, name=name)
        metadata, timeout = self._internal.metadata("secret"), self._timeout
        reply = await call(
            "secret", self._stub.DeleteSecret(request, metadata=metadata, timeout=timeout)
        )
        self._remember(name, None)
        return reply.deleted

    def forget(self, name: str | None = None) -> None:
        """Drop a cached value (every value when no name is given), so the next get reads it."""
        if name is None:
            self._cache.clear()
        else:
            self._cache.pop(name, None)

    def _remember(self, name: str, value: bytes | None) -> None:
        self._cache[name] = (value, self._clock.monotonic())
