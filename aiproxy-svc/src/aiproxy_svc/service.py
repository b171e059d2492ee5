"""AiProxyService: protobuf ↔ domain translation only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2

from aiproxy_svc.domain import ApiModel, Start, checked_fields
from aiproxy_svc.local import LocalModels
from aiproxy_svc.providers import Providers
from aiproxy_svc.proxy import Proxy
from aiproxy_svc.registry import ApiModels
from bodhi.aiproxy.v1 import aiproxy_pb2 as pb
from bodhi.aiproxy.v1 import aiproxy_pb2_grpc
from bodhi.model.v1 import model_pb2
from bodhi_common.errors import DeadlineExceeded, InvalidArgument, Unavailable
from bodhi_common.paging import page_of

log = logging.getLogger(__name__)

Context = Any
_FORMAT = {pb.API_FORMAT_OPENAI: "openai"}
_FORMAT_PB = {v: k for k, v in _FORMAT.items()}


class AiProxyServicer(aiproxy_pb2_grpc.AiProxyServiceServicer):
    """API model aliases and the AI proxy."""

    def __init__(
        self, api_models: ApiModels, providers: Providers, proxy: Proxy, local: LocalModels
    ) -> None:
        self._api = api_models
        self._providers = providers
        self._proxy = proxy
        self._local = local

    async def CreateApiModel(self, request: pb.CreateApiModelRequest, context: Context) -> Any:
        """Register a provider; its key goes to secret-svc."""
        fields = _fields(request)
        if not request.api_key:
            raise InvalidArgument(
                "api_key must not be empty", code="invalid_api_key", param="api_key"
            )
        created = await self._api.create(request.id, fields, request.api_key)
        return pb.CreateApiModelResponse(api_model=_api_model_pb(created))

    async def GetApiModel(self, request: pb.GetApiModelRequest, context: Context) -> Any:
        """One API model."""
        return pb.GetApiModelResponse(api_model=_api_model_pb(await self._api.get(request.id)))

    async def ListApiModels(self, request: pb.ListApiModelsRequest, context: Context) -> Any:
        """API models, newest first."""
        page = page_of(request.page)
        models, total = await self._api.page(page.offset, page.size)
        return pb.ListApiModelsResponse(
            api_models=[_api_model_pb(m) for m in models], page_info=page.info(total)
        )

    async def UpdateApiModel(self, request: pb.UpdateApiModelRequest, context: Context) -> Any:
        """Replace an API model's settings; the key only when one is sent."""
        key = request.api_key if request.HasField("api_key") else None
        if key == "":
            raise InvalidArgument(
                "api_key must not be empty", code="invalid_api_key", param="api_key"
            )
        updated = await self._api.update(request.id, _fields(request), key)
        return pb.UpdateApiModelResponse(api_model=_api_model_pb(updated))

    async def DeleteApiModel(self, request: pb.DeleteApiModelRequest, context: Context) -> Any:
        """Remove an API model and its key."""
        await self._api.delete(request.id)
        return pb.DeleteApiModelResponse()

    async def TestApiModel(self, request: pb.TestApiModelRequest, context: Context) -> Any:
        """A short prompt to the provider; its failure is reported in the reply."""
        target = await self._providers.target(*_credentials(request))
        ok, text = await self._providers.test_prompt(target, request.model, request.prompt)
        return pb.TestApiModelResponse(
            success=ok, **({"response": text} if ok else {"error": text})
        )

    async def FetchProviderModels(
        self, request: pb.FetchProviderModelsRequest, context: Context
    ) -> Any:
        """The model ids a provider offers."""
        target = await self._providers.target(*_credentials(request))
        return pb.FetchProviderModelsResponse(models=await self._providers.models(target))

    async def ListModels(self, request: pb.ListModelsRequest, context: Context) -> Any:
        """Every routable name: user aliases, model aliases, then API models (prefix included).
        Without model-svc the API models are still listed (they route without it), marked so."""
        api = await self._api.table()
        try:
            local = await self._local.aliases()
        except (Unavailable, DeadlineExceeded) as err:
            log.warning("model-svc unavailable: listing API models only", extra={"code": err.code})
            return pb.ListModelsResponse(models=_model_infos([], api), local_unavailable=True)
        return pb.ListModelsResponse(models=_model_infos(local, api))

    async def ChatCompletion(
        self, request: pb.ChatCompletionRequest, context: Context
    ) -> AsyncIterator[pb.ChatCompletionResponse]:
        """The upstream's answer: its start, then its body as it arrives."""
        async for part in self._proxy.chat(request.model, request.body):
            yield _part(pb.ChatCompletionResponse, part)

    async def CompleteChat(self, request: pb.CompleteChatRequest, context: Context) -> Any:
        """The upstream's whole answer in one message."""
        start, body = await self._proxy.whole(request.model, request.body)
        return pb.CompleteChatResponse(start=_start_pb(start), body=body)

    async def Embeddings(
        self, request: pb.EmbeddingsRequest, context: Context
    ) -> AsyncIterator[pb.EmbeddingsResponse]:
        """The upstream's answer: its start, then its body in pieces."""
        async for part in self._proxy.embeddings(request.model, request.body):
            yield _part(pb.EmbeddingsResponse, part)


def _part(message: Any, part: Start | bytes) -> Any:
    if isinstance(part, Start):
        return message(start=_start_pb(part))
    return message(body_chunk=part)


def _fields(request: pb.CreateApiModelRequest | pb.UpdateApiModelRequest) -> Any:
    api_format = _FORMAT.get(request.api_format, "")
    prefix = request.prefix if request.HasField("prefix") else None
    return checked_fields(api_format, request.base_url, list(request.models), prefix)


def _credentials(
    request: pb.TestApiModelRequest | pb.FetchProviderModelsRequest,
) -> tuple[str | None, str | None, str]:
    model_id = request.id if request.HasField("id") else None
    key = request.api_key if request.HasField("api_key") else None
    return model_id, key, request.base_url


def _time(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _api_model_pb(model: ApiModel) -> pb.ApiModel:
    return pb.ApiModel(
        id=model.id, api_format=_FORMAT_PB[model.api_format], base_url=model.base_url,
        models=model.models, prefix=model.prefix, api_key_masked=model.api_key_masked,
        created_at=_time(model.created_at), updated_at=_time(model.updated_at),
    )  # fmt: skip


def _start_pb(start: Start) -> pb.ResponseStart:
    headers = [pb.HttpHeader(name=n, value=v) for n, v in start.headers]
    return pb.ResponseStart(
        http_status=start.status, headers=headers, upstream_ms=start.upstream_ms
    )


def _model_infos(local: list[model_pb2.Alias], api: list[ApiModel]) -> list[pb.ModelInfo]:
    """Names in listing order; a name appears once, as the entry that routes it (API first)."""
    entries: dict[str, pb.ModelInfo] = {}
    for model in api:  # the order route() tries them in, so the listed entry is the routed one
        for name in model.models:
            routed = (model.prefix or "") + name
            entries.setdefault(routed, pb.ModelInfo(
                id=routed, created_at=_time(model.created_at), owned_by=model.base_url,
                source=pb.MODEL_SOURCE_API, api_model_id=model.id,
            ))  # fmt: skip
    ordered: list[pb.ModelInfo] = []
    for alias in local:
        kind = alias.WhichOneof("kind")
        item = alias.user if kind == "user" else alias.model
        if item.alias in entries:
            continue
        source = pb.MODEL_SOURCE_USER if kind == "user" else pb.MODEL_SOURCE_MODEL
        ordered.append(pb.ModelInfo(
            id=item.alias, created_at=item.created_at, owned_by="system", source=source
        ))  # fmt: skip
    ordered.sort(key=lambda i: (i.source, i.id))
    return ordered + sorted(entries.values(), key=lambda i: i.id)
