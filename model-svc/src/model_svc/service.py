"""ModelService: Hugging Face downloads, the local cache and aliases (issue #5).

Every RPC of the contract is answered UNIMPLEMENTED by the interceptor until its issue
builds it; this class is where they will be overridden."""

from __future__ import annotations

from bodhi.model.v1 import model_pb2_grpc


class ModelServicer(model_pb2_grpc.ModelServiceServicer):
    """The Hugging Face downloads, local cache and aliases."""
