"""AiProxyService: API model aliases and the AI proxy (issue #6).

Every RPC of the contract is answered UNIMPLEMENTED by the interceptor until its issue
builds it; this class is where they will be overridden."""

from __future__ import annotations

from bodhi.aiproxy.v1 import aiproxy_pb2_grpc


class AiProxyServicer(aiproxy_pb2_grpc.AiProxyServiceServicer):
    """The API model aliases and the AI proxy."""
