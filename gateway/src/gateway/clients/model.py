"""Calls to model-svc: one small function per RPC, protobuf in here only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
import msgspec
from google.protobuf import json_format, timestamp_pb2

from bodhi.common.v1 import common_pb2
from bodhi.model.v1 import model_pb2 as pb
from bodhi.model.v1 import model_pb2_grpc
from bodhi_common.downstream import call, from_rpc_error
from bodhi_common.internal_auth import InternalAuth
from gateway.identity import AuthContext
from gateway.schemas.models import (
    AliasBody,
    CatalogEntry,
    CatalogPage,
    DownloadOut,
    DownloadPage,
    HubTokenOut,
    LocalFileOut,
    LocalFilePage,
    MetadataOut,
    ModelAliasOut,
    ProgressOut,
    UserAliasOut,
)

_TOKEN_SOURCE: dict[int, Any] = {1: "none", 2: "env", 3: "stored", 4: "file"}
_STATUS = {1: "pending", 2: "pending", 3: "completed", 4: "error", 5: "cancelled"}
_FILE_SORT = {"repo": 1, "filename": 2, "snapshot": 3, "size": 4}


class ModelClient:
    """model-svc over one channel."""

    def __init__(self, channel: grpc.aio.Channel, internal: InternalAuth, timeout: float) -> None:
        self._stub = model_pb2_grpc.ModelServiceStub(channel)
        self._internal = internal
        self._timeout = timeout

    async def _rpc(self, name: str, request: Any, ctx: AuthContext | None) -> Any:
        metadata = self._internal.metadata("model", ctx.principal() if ctx else None)
        method = getattr(self._stub, name)
        return await call("model", method(request, metadata=metadata, timeout=self._timeout))

    async def local_files(
        self, ctx: AuthContext, page: int, size: int, sort: str, descending: bool
    ) -> LocalFilePage:
        """Cached GGUF files."""
        request = pb.ListLocalFilesRequest(
            page=_page(page, size),
            sort=pb.LocalFileSortField.ValueType(_FILE_SORT.get(sort, 1)),
            sort_order=_order(descending),
        )
        reply = await self._rpc("ListLocalFiles", request, ctx)
        data = [
            LocalFileOut(
                repo=f.repo,
                filename=f.filename,
                snapshot=f.snapshot,
                size=f.size if f.HasField("size") else None,
            )
            for f in reply.local_files
        ]
        info = reply.page_info
        return LocalFilePage(data=data, total=info.total, page=info.page, page_size=info.page_size)

    async def pull(
        self, ctx: AuthContext, repo: str, filename: str, revision: str
    ) -> tuple[DownloadOut, bool]:
        """Start or join a download; (download, created)."""
        request = pb.PullFileRequest(repo=repo, filename=filename, revision=revision)
        reply = await self._rpc("PullFile", request, ctx)
        return _download(reply.download), reply.created

    async def pull_alias(self, ctx: AuthContext, alias: str) -> tuple[DownloadOut, bool]:
        """Download a catalog model; (download, created)."""
        reply = await self._rpc("PullAlias", pb.PullAliasRequest(alias=alias), ctx)
        return _download(reply.download), reply.created

    async def download(self, ctx: AuthContext, download_id: str) -> DownloadOut:
        """One download."""
        reply = await self._rpc("GetDownload", pb.GetDownloadRequest(id=download_id), ctx)
        return _download(reply.download)

    async def downloads(self, ctx: AuthContext, page: int, size: int) -> DownloadPage:
        """Downloads, newest first."""
        reply = await self._rpc(
            "ListDownloads", pb.ListDownloadsRequest(page=_page(page, size)), ctx
        )
        info = reply.page_info
        data = [_download(d) for d in reply.downloads]
        return DownloadPage(data=data, total=info.total, page=info.page, page_size=info.page_size)

    async def watch(self, ctx: AuthContext, download_id: str) -> AsyncIterator[ProgressOut]:
        """Progress as it happens; the call ends with the download (or when the caller stops)."""
        metadata = self._internal.metadata("model", ctx.principal())
        stream = self._stub.WatchDownload(
            pb.WatchDownloadRequest(id=download_id), metadata=metadata
        )
        try:
            async for reply in stream:
                yield _progress(download_id, reply.progress)
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error("model", err) from None
        finally:
            stream.cancel()

    async def cancel(self, ctx: AuthContext, download_id: str, delete_partial: bool) -> DownloadOut:
        """Stop a pending download."""
        request = pb.CancelDownloadRequest(id=download_id, delete_partial=delete_partial)
        return _download((await self._rpc("CancelDownload", request, ctx)).download)

    async def all_aliases(
        self, ctx: AuthContext
    ) -> list[tuple[UserAliasOut | ModelAliasOut, datetime]]:
        """Every user and derived alias by name, with when it was created."""
        reply = await self._rpc("ListAliases", pb.ListAliasesRequest(), ctx)
        return [(_alias(a), _created(a)) for a in reply.aliases]

    async def user_alias(self, ctx: AuthContext, alias: str) -> UserAliasOut:
        """One user alias."""
        reply = await self._rpc("GetUserAlias", pb.GetUserAliasRequest(alias=alias), ctx)
        return _user_alias(reply.user_alias)

    async def create_alias(self, ctx: AuthContext, body: AliasBody, alias: str) -> UserAliasOut:
        """A new user alias."""
        reply = await self._rpc(
            "CreateUserAlias", pb.CreateUserAliasRequest(**_alias_fields(body, alias)), ctx
        )
        return _user_alias(reply.user_alias)

    async def put_alias(
        self, ctx: AuthContext, body: AliasBody, alias: str
    ) -> tuple[UserAliasOut, bool]:
        """Create or replace a user alias; (alias, created)."""
        request = pb.UpdateUserAliasRequest(**_alias_fields(body, alias))
        reply = await self._rpc("UpdateUserAlias", request, ctx)
        return _user_alias(reply.user_alias), reply.created

    async def delete_alias(self, ctx: AuthContext, alias: str) -> None:
        """Remove a user alias."""
        await self._rpc("DeleteUserAlias", pb.DeleteUserAliasRequest(alias=alias), ctx)

    async def metadata(
        self, ctx: AuthContext, alias: str | None = None, file: tuple[str, str, str] | None = None
    ) -> MetadataOut:
        """GGUF metadata of an alias's file or of a cached file."""
        if alias is not None:
            request = pb.GetModelMetadataRequest(alias=alias)
        else:
            assert file is not None
            ref = pb.FileRef(repo=file[0], filename=file[1], snapshot=file[2])
            request = pb.GetModelMetadataRequest(file=ref)
        meta = (await self._rpc("GetModelMetadata", request, ctx)).metadata
        return MetadataOut(
            name=meta.name if meta.HasField("name") else None, architecture=meta.architecture,
            parameter_count=meta.parameter_count if meta.HasField("parameter_count") else None,
            context_length=meta.context_length if meta.HasField("context_length") else None,
            quantization=meta.quantization,
            chat_template=meta.chat_template if meta.HasField("chat_template") else None,
            file_size=meta.file_size,
        )  # fmt: skip

    async def catalog(self, ctx: AuthContext, page: int, size: int) -> CatalogPage:
        """The downloadable-model catalog."""
        reply = await self._rpc("ListCatalog", pb.ListCatalogRequest(page=_page(page, size)), ctx)
        info = reply.page_info
        data = [
            CatalogEntry(
                alias=m.alias,
                repo=m.repo,
                filename=m.filename,
                snapshot=m.snapshot,
                request_params=_params(m.request_params),
                context_params=list(m.context_params),
                downloaded=m.downloaded,
            )
            for m in reply.catalog_models
        ]
        return CatalogPage(data=data, total=info.total, page=info.page, page_size=info.page_size)

    async def hub_token(self, ctx: AuthContext) -> HubTokenOut:
        """Which Hub token downloads use."""
        return _token_status(await self._rpc("GetHubToken", pb.GetHubTokenRequest(), ctx))

    async def store_hub_token(self, ctx: AuthContext, token: str) -> HubTokenOut:
        """Store a Hub token (admins)."""
        request = pb.SetHubTokenRequest(token=token)
        return _token_status(await self._rpc("SetHubToken", request, ctx))

    async def remove_hub_token(self, ctx: AuthContext) -> HubTokenOut:
        """Remove the stored Hub token (admins)."""
        return _token_status(await self._rpc("DeleteHubToken", pb.DeleteHubTokenRequest(), ctx))


def _token_status(reply: pb.HubTokenStatus) -> HubTokenOut:
    return HubTokenOut(source=_TOKEN_SOURCE.get(reply.source, "none"), stored=reply.stored)


def _page(page: int, size: int) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page=page, page_size=size)


def _order(descending: bool) -> common_pb2.SortOrder.ValueType:
    return common_pb2.SORT_ORDER_DESC if descending else common_pb2.SORT_ORDER_ASC


def _time(stamp: timestamp_pb2.Timestamp, present: bool = True) -> datetime | None:
    return stamp.ToDatetime(tzinfo=UTC) if present else None


def _params(params: pb.RequestParams) -> dict[str, Any]:
    values: dict[str, Any] = json_format.MessageToDict(params, preserving_proto_field_name=True)
    if "max_tokens" in values:
        values["max_tokens"] = int(values["max_tokens"])
    if "seed" in values:
        values["seed"] = int(values["seed"])
    return values


def _alias_fields(body: AliasBody, alias: str) -> dict[str, Any]:
    params = body.request_params
    fields: dict[str, Any] = {
        "alias": alias,
        "repo": body.repo,
        "filename": body.filename,
        "snapshot": body.snapshot or "",
        "context_params": body.context_params or [],
    }
    if params is not None:
        values = {k: v for k, v in msgspec.structs.asdict(params).items() if v not in (None, [])}
        fields["request_params"] = pb.RequestParams(**values)
    return fields


def _download(d: pb.Download) -> DownloadOut:
    return DownloadOut(
        id=d.id, repo=d.repo, filename=d.filename, revision=d.revision,
        status=_STATUS.get(d.status, "pending"),
        error=d.error if d.HasField("error") else None,
        error_code=d.error_code if d.HasField("error_code") else None,
        alias=d.alias if d.HasField("alias") else None,
        total_bytes=d.total_bytes if d.HasField("total_bytes") else None,
        downloaded_bytes=d.downloaded_bytes, bytes_per_second=d.bytes_per_second,
        started_at=_time(d.started_at, d.HasField("started_at")),
        created_at=_time(d.created_at, d.HasField("created_at")),
        updated_at=_time(d.updated_at, d.HasField("updated_at")),
    )  # fmt: skip


def _progress(download_id: str, p: pb.DownloadProgress) -> ProgressOut:
    return ProgressOut(
        id=download_id, status=_STATUS.get(p.status, "pending"),
        error=p.error if p.HasField("error") else None,
        error_code=p.error_code if p.HasField("error_code") else None,
        total_bytes=p.total_bytes if p.HasField("total_bytes") else None,
        downloaded_bytes=p.downloaded_bytes, bytes_per_second=p.bytes_per_second,
        started_at=_time(p.started_at, p.HasField("started_at")),
        updated_at=_time(p.updated_at, p.HasField("updated_at")),
    )  # fmt: skip


def _user_alias(a: pb.UserAlias) -> UserAliasOut:
    return UserAliasOut(
        alias=a.alias, repo=a.repo, filename=a.filename, snapshot=a.snapshot,
        request_params=_params(a.request_params), context_params=list(a.context_params),
    )  # fmt: skip


def _created(a: pb.Alias) -> datetime:
    item = a.user if a.WhichOneof("kind") == "user" else a.model
    return _time(item.created_at) or datetime.fromtimestamp(0, UTC)


def _alias(a: pb.Alias) -> UserAliasOut | ModelAliasOut:
    if a.WhichOneof("kind") == "user":
        return _user_alias(a.user)
    m = a.model
    return ModelAliasOut(alias=m.alias, repo=m.repo, filename=m.filename, snapshot=m.snapshot)
