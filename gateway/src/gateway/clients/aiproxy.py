"""Calls to aiproxy-svc: one small function per RPC, protobuf in here only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
import msgspec

from bodhi.aiproxy.v1 import aiproxy_pb2 as pb
from bodhi.aiproxy.v1 import aiproxy_pb2_grpc
from bodhi.common.v1 import common_pb2
from bodhi_common.downstream import call, from_rpc_error
from bodhi_common.internal_auth import InternalAuth
from gateway.identity import AuthContext
from gateway.schemas.ai import (
    ApiAliasOut,
    ApiModelCreate,
    ApiModelOut,
    ApiModelPage,
    ApiModelUpdate,
    ModelCatalog,
    ModelEntry,
    ProviderCheck,
    TestPrompt,
    TestResult,
    Upstream,
)

_SOURCE: dict[int, Any] = {
    pb.MODEL_SOURCE_USER: "user", pb.MODEL_SOURCE_MODEL: "model", pb.MODEL_SOURCE_API: "api"
}  # fmt: skip
_ALL = 100  # the largest page; API models are listed whole page by page


class AiProxyClient:
    """aiproxy-svc over one channel."""

    def __init__(self, channel: grpc.aio.Channel, internal: InternalAuth, timeout: float) -> None:
        self._stub = aiproxy_pb2_grpc.AiProxyServiceStub(channel)
        self._internal = internal
        self._timeout = timeout

    def _metadata(self, ctx: AuthContext) -> Any:
        return self._internal.metadata("aiproxy", ctx.principal())

    async def _rpc(self, name: str, request: Any, ctx: AuthContext, *, bounded: bool = True) -> Any:
        method = getattr(self._stub, name)
        timeout = self._timeout if bounded else None
        return await call("aiproxy", method(request, metadata=self._metadata(ctx), timeout=timeout))

    async def create(self, ctx: AuthContext, body: ApiModelCreate) -> ApiModelOut:
        """Register a provider."""
        request = pb.CreateApiModelRequest(
            id=body.id or "", api_key=body.api_key, **_settings(body)
        )
        return _api_model((await self._rpc("CreateApiModel", request, ctx)).api_model)

    async def get(self, ctx: AuthContext, model_id: str) -> ApiModelOut:
        """One API model."""
        reply = await self._rpc("GetApiModel", pb.GetApiModelRequest(id=model_id), ctx)
        return _api_model(reply.api_model)

    async def page(self, ctx: AuthContext, page: int, size: int) -> ApiModelPage:
        """API models, newest first."""
        request = pb.ListApiModelsRequest(page=common_pb2.PageRequest(page=page, page_size=size))
        reply = await self._rpc("ListApiModels", request, ctx)
        info = reply.page_info
        data = [_api_model(m) for m in reply.api_models]
        return ApiModelPage(data=data, total=info.total, page=info.page, page_size=info.page_size)

    async def all(self, ctx: AuthContext) -> list[ApiAliasOut]:
        """Every API model, as listed among the aliases."""
        found: list[ApiAliasOut] = []
        page = 1
        while True:
            batch = await self.page(ctx, page, _ALL)
            found += [_api_alias(m) for m in batch.data]
            if len(found) >= batch.total or not batch.data:
                return found
            page += 1

    async def update(self, ctx: AuthContext, model_id: str, body: ApiModelUpdate) -> ApiModelOut:
        """Replace an API model's settings."""
        request = pb.UpdateApiModelRequest(id=model_id, api_key=body.api_key, **_settings(body))
        return _api_model((await self._rpc("UpdateApiModel", request, ctx)).api_model)

    async def delete(self, ctx: AuthContext, model_id: str) -> None:
        """Remove an API model and its key."""
        await self._rpc("DeleteApiModel", pb.DeleteApiModelRequest(id=model_id), ctx)

    async def test(self, ctx: AuthContext, body: TestPrompt) -> TestResult:
        """A short prompt to a provider."""
        request = pb.TestApiModelRequest(
            api_key=body.api_key, id=body.id, base_url=body.base_url, model=body.model,
            prompt=body.prompt,
        )  # fmt: skip
        reply = await self._rpc("TestApiModel", request, ctx, bounded=False)  # a generation
        return TestResult(
            success=reply.success,
            response=reply.response if reply.HasField("response") else None,
            error=reply.error if reply.HasField("error") else None,
        )

    async def provider_models(self, ctx: AuthContext, body: ProviderCheck) -> list[str]:
        """The model ids a provider lists."""
        request = pb.FetchProviderModelsRequest(
            api_key=body.api_key, id=body.id, base_url=body.base_url
        )
        reply = await self._rpc("FetchProviderModels", request, ctx, bounded=False)
        return list(reply.models)

    async def models(self, ctx: AuthContext) -> ModelCatalog:
        """Every routable model name (the API models alone while model-svc is unavailable)."""
        reply = await self._rpc("ListModels", pb.ListModelsRequest(), ctx)
        entries = [
            ModelEntry(
                id=m.id, created=m.created_at.seconds, owned_by=m.owned_by,
                source=_SOURCE.get(m.source, "model"),
            )
            for m in reply.models
        ]  # fmt: skip
        return ModelCatalog(entries=entries, local_unavailable=reply.local_unavailable)

    async def chat(
        self, ctx: AuthContext, model: str, body: bytes
    ) -> tuple[Upstream, AsyncIterator[bytes]]:
        """A streamed chat: the upstream's start, and its body as it arrives (iterate it to the
        end or close it: closing cancels the call, and with it the upstream request)."""
        request = pb.ChatCompletionRequest(body=body, model=model, stream=True)
        return await self._proxied(self._stub.ChatCompletion, request, ctx)

    async def complete(self, ctx: AuthContext, model: str, body: bytes) -> tuple[Upstream, bytes]:
        """A non-streamed chat completion's whole answer (no deadline, as for chat)."""
        request = pb.CompleteChatRequest(body=body, model=model)
        reply = await self._rpc("CompleteChat", request, ctx, bounded=False)
        return _upstream(reply.start), reply.body

    async def embeddings(
        self, ctx: AuthContext, model: str, body: bytes
    ) -> tuple[Upstream, AsyncIterator[bytes]]:
        """The upstream's start and its body, as for chat."""
        request = pb.EmbeddingsRequest(body=body, model=model)
        return await self._proxied(self._stub.Embeddings, request, ctx)

    async def _proxied(
        self, method: Any, request: Any, ctx: AuthContext
    ) -> tuple[Upstream, AsyncIterator[bytes]]:
        # No deadline: a non-streamed answer starts only when the model has finished, and a
        # stream may run for minutes. aiproxy's read timeout bounds every upstream silence, and
        # the channel's keepalive notices an aiproxy that is gone.
        parts = method(request, metadata=self._metadata(ctx))
        iterator = aiter(parts)
        try:
            first = await call("aiproxy", _first(iterator))
        except BaseException:
            parts.cancel()
            raise
        return _upstream(first.start), _chunks(parts, iterator)


async def _first(iterator: AsyncIterator[Any]) -> Any:
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.INTERNAL, grpc.aio.Metadata(), grpc.aio.Metadata(), "empty stream"
        ) from None


async def _chunks(parts: Any, iterator: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    try:
        async for part in iterator:
            yield part.body_chunk
    except grpc.aio.AioRpcError as err:
        raise from_rpc_error("aiproxy", err) from None
    finally:
        parts.cancel()


def _settings(body: ApiModelCreate | ApiModelUpdate) -> dict[str, Any]:
    return {
        "api_format": pb.API_FORMAT_OPENAI, "base_url": body.base_url, "models": body.models,
        "prefix": body.prefix,
    }  # fmt: skip


def _time(stamp: Any) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)  # type: ignore[no-any-return]


def _api_model(m: pb.ApiModel) -> ApiModelOut:
    return ApiModelOut(
        id=m.id, api_format="openai", base_url=m.base_url, api_key_masked=m.api_key_masked,
        models=list(m.models), prefix=m.prefix if m.HasField("prefix") else None,
        created_at=_time(m.created_at), updated_at=_time(m.updated_at),
    )  # fmt: skip


def _api_alias(m: ApiModelOut) -> ApiAliasOut:
    fields = msgspec.structs.asdict(m)
    del fields["api_key_masked"]
    return ApiAliasOut(**fields)


def _upstream(start: pb.ResponseStart) -> Upstream:
    headers = [(h.name, h.value) for h in start.headers]
    return Upstream(status=start.http_status, headers=headers, upstream_ms=start.upstream_ms)
