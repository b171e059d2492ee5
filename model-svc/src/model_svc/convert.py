"""Domain ↔ protobuf for ModelService."""

from __future__ import annotations

from datetime import datetime

import msgspec
from google.protobuf import timestamp_pb2

from bodhi.model.v1 import model_pb2 as pb
from model_svc.domain import (
    CatalogModel,
    Download,
    LocalFile,
    ModelAlias,
    ModelMetadata,
    RequestParams,
    UserAlias,
)

_STATUS = {
    "pending": pb.DOWNLOAD_STATUS_PENDING,
    "completed": pb.DOWNLOAD_STATUS_COMPLETED,
    "error": pb.DOWNLOAD_STATUS_ERROR,
    "cancelled": pb.DOWNLOAD_STATUS_CANCELLED,
}


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A protobuf Timestamp (None stays unset)."""
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def params_pb(params: RequestParams) -> pb.RequestParams:
    """Request parameters on the wire."""
    return pb.RequestParams(**msgspec.to_builtins(params))


def params_of(message: pb.RequestParams) -> RequestParams:
    """Request parameters from the wire (unset optional fields stay None)."""
    values = {field.name: value for field, value in message.ListFields() if field.name != "stop"}
    return RequestParams(**values, stop=list(message.stop))


def local_file_pb(file: LocalFile) -> pb.LocalFile:
    """A cached file on the wire."""
    return pb.LocalFile(
        repo=file.repo, filename=file.filename, snapshot=file.snapshot, size=file.size
    )


def user_alias_pb(alias: UserAlias) -> pb.UserAlias:
    """A user alias on the wire."""
    return pb.UserAlias(
        alias=alias.alias, repo=alias.repo, filename=alias.filename, snapshot=alias.snapshot,
        request_params=params_pb(alias.request_params), context_params=alias.context_params,
        created_at=timestamp(alias.created_at), updated_at=timestamp(alias.updated_at),
    )  # fmt: skip


def user_alias_of(message: pb.CreateUserAliasRequest | pb.UpdateUserAliasRequest) -> UserAlias:
    """A user alias from a create/update request."""
    return UserAlias(
        alias=message.alias, repo=message.repo, filename=message.filename,
        snapshot=message.snapshot, request_params=params_of(message.request_params),
        context_params=list(message.context_params),
    )  # fmt: skip


def alias_pb(alias: UserAlias | ModelAlias) -> pb.Alias:
    """Either kind of alias on the wire."""
    if isinstance(alias, UserAlias):
        return pb.Alias(user=user_alias_pb(alias))
    return pb.Alias(
        model=pb.ModelAlias(
            alias=alias.alias,
            repo=alias.repo,
            filename=alias.filename,
            snapshot=alias.snapshot,
            created_at=timestamp(alias.created_at),
        )
    )


def download_pb(download: Download) -> pb.Download:
    """A download on the wire."""
    return pb.Download(
        id=download.id, repo=download.repo, filename=download.filename,
        revision=download.revision, status=_STATUS[download.status], error=download.error,
        error_code=download.error_code, total_bytes=download.total_bytes,
        downloaded_bytes=download.downloaded_bytes, bytes_per_second=download.bytes_per_second,
        alias=download.alias, started_at=timestamp(download.started_at),
        created_at=timestamp(download.created_at), updated_at=timestamp(download.updated_at),
    )  # fmt: skip


def progress_pb(download: Download) -> pb.DownloadProgress:
    """A progress event on the wire."""
    return pb.DownloadProgress(
        id=download.id, status=_STATUS[download.status], total_bytes=download.total_bytes,
        downloaded_bytes=download.downloaded_bytes, bytes_per_second=download.bytes_per_second,
        error=download.error, error_code=download.error_code,
        started_at=timestamp(download.started_at), updated_at=timestamp(download.updated_at),
    )  # fmt: skip


def catalog_pb(model: CatalogModel, downloaded: bool) -> pb.CatalogModel:
    """A catalog entry on the wire."""
    return pb.CatalogModel(
        alias=model.alias, repo=model.repo, filename=model.filename, snapshot=model.snapshot,
        request_params=params_pb(model.request_params), context_params=model.context_params,
        downloaded=downloaded,
    )  # fmt: skip


def metadata_pb(meta: ModelMetadata) -> pb.ModelMetadata:
    """GGUF metadata on the wire."""
    return pb.ModelMetadata(**msgspec.to_builtins(meta))
