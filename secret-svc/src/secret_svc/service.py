"""SecretService: the encrypted secret vault (issue #3).

Every RPC of the contract is answered UNIMPLEMENTED by the interceptor until its issue
builds it; this class is where they will be overridden."""

from __future__ import annotations

from bodhi.secret.v1 import secret_pb2_grpc


class SecretServicer(secret_pb2_grpc.SecretServiceServicer):
    """The encrypted secret vault."""
