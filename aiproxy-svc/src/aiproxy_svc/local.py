"""Local models through model-svc: resolving an alias and listing every alias."""

from __future__ import annotations

from typing import Any

import grpc

from bodhi.model.v1 import model_pb2 as pb
from bodhi.model.v1 import model_pb2_grpc
from bodhi_common.context import current_caller
from bodhi_common.downstream import call
from bodhi_common.errors import NotFound
from bodhi_common.internal_auth import InternalAuth


class LocalModels:
    """model-svc over one channel, on behalf of whoever called aiproxy."""

    def __init__(self, channel: grpc.aio.Channel, internal: InternalAuth, timeout: float) -> None:
        self._stub = model_pb2_grpc.ModelServiceStub(channel)
        self._internal = internal
        self._timeout = timeout

    def _metadata(self) -> Any:
        return self._internal.metadata("model", current_caller().principal)

    async def resolve(self, name: str) -> pb.ResolveAliasResponse | None:
        """The user or model alias called `name`, or None when there is none."""
        request = pb.ResolveAliasRequest(name=name)
        try:
            return await call(
                "model",
                self._stub.ResolveAlias(request, metadata=self._metadata(), timeout=self._timeout),
            )
        except NotFound as err:
            if err.code == "alias_not_found":
                return None
            raise

    async def aliases(self) -> list[pb.Alias]:
        """Every user and model alias, by name."""
        request = pb.ListAliasesRequest()
        reply = await call(
            "model",
            self._stub.ListAliases(request, metadata=self._metadata(), timeout=self._timeout),
        )
        return list(reply.aliases)
