"""ModelService: protobuf ↔ domain translation only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

from bodhi.common.v1 import common_pb2
from bodhi.model.v1 import model_pb2 as pb
from bodhi.model.v1 import model_pb2_grpc
from bodhi_common.errors import NotFound
from bodhi_common.paging import Page, page_of
from model_svc import cache, convert
from model_svc.aliases import Aliases, AnyAlias
from model_svc.catalog import Catalog
from model_svc.domain import LocalFile, UserAlias
from model_svc.downloads import Downloads
from model_svc.hub_token import HubTokens, Source
from model_svc.metadata import MetadataReader
from model_svc.settings import ModelSettings

Context = Any
T = TypeVar("T")

_TOKEN_SOURCE = {
    Source.NONE: pb.HUB_TOKEN_SOURCE_NONE,
    Source.ENV: pb.HUB_TOKEN_SOURCE_ENV,
    Source.STORED: pb.HUB_TOKEN_SOURCE_STORED,
    Source.FILE: pb.HUB_TOKEN_SOURCE_FILE,
}
_FILE_SORT: dict[int, Callable[[LocalFile], Any]] = {
    pb.LOCAL_FILE_SORT_FIELD_UNSPECIFIED: lambda f: (f.repo, f.filename),
    pb.LOCAL_FILE_SORT_FIELD_REPO: lambda f: (f.repo, f.filename),
    pb.LOCAL_FILE_SORT_FIELD_FILENAME: lambda f: (f.filename, f.repo),
    pb.LOCAL_FILE_SORT_FIELD_SNAPSHOT: lambda f: (f.snapshot, f.repo, f.filename),
    pb.LOCAL_FILE_SORT_FIELD_SIZE: lambda f: (f.size or 0, f.repo, f.filename),
}
_ALIAS_SORT: dict[int, Callable[[AnyAlias], Any]] = {
    pb.ALIAS_SORT_FIELD_UNSPECIFIED: lambda a: a.alias,
    pb.ALIAS_SORT_FIELD_NAME: lambda a: a.alias,
    pb.ALIAS_SORT_FIELD_REPO: lambda a: (a.repo, a.alias),
    pb.ALIAS_SORT_FIELD_FILENAME: lambda a: (a.filename, a.alias),
    pb.ALIAS_SORT_FIELD_SOURCE: lambda a: (0 if isinstance(a, UserAlias) else 1, a.alias),
}


def _sorted_page(
    items: Sequence[T], key: Callable[[T], Any], order: int, page: Page
) -> tuple[list[T], int]:
    ordered = sorted(items, key=key, reverse=order == common_pb2.SORT_ORDER_DESC)
    return ordered[page.offset : page.offset + page.size], len(ordered)


class ModelServicer(model_pb2_grpc.ModelServiceServicer):
    """Local model files, pulls from the Hub, aliases, metadata and the catalog."""

    def __init__(
        self, downloads: Downloads, aliases: Aliases, catalog: Catalog, metadata: MetadataReader,
        tokens: HubTokens, settings: ModelSettings,
    ) -> None:  # fmt: skip
        self._downloads = downloads
        self._tokens = tokens
        self._aliases = aliases
        self._catalog = catalog
        self._metadata = metadata
        self._cache = settings.hub_cache

    async def ListLocalFiles(self, request: pb.ListLocalFilesRequest, context: Context) -> Any:
        """GGUF files in the cache, sorted and paged."""
        page, key = page_of(request.page), _FILE_SORT.get(request.sort, _FILE_SORT[0])
        scanned = await asyncio.to_thread(cache.local_files, self._cache)
        files, total = _sorted_page(scanned, key, request.sort_order, page)
        return pb.ListLocalFilesResponse(
            local_files=[convert.local_file_pb(f) for f in files], page_info=page.info(total)
        )

    async def DeleteLocalFile(self, request: pb.DeleteLocalFileRequest, context: Context) -> Any:
        """Remove a file from one snapshot (its blob too once no snapshot links to it)."""
        ref = request.file
        removed = cache.delete(self._cache, ref.repo, ref.filename, ref.snapshot or "main")
        return pb.DeleteLocalFileResponse(local_file=convert.local_file_pb(removed))

    async def PullFile(self, request: pb.PullFileRequest, context: Context) -> Any:
        """Start (or join) the download of one file."""
        download, created = await self._downloads.pull(
            request.repo, request.filename, request.revision
        )
        return pb.PullFileResponse(download=convert.download_pb(download), created=created)

    async def PullAlias(self, request: pb.PullAliasRequest, context: Context) -> Any:
        """Download a catalog model; its alias is created when done."""
        download, created = await self._downloads.pull_alias(request.alias)
        return pb.PullAliasResponse(download=convert.download_pb(download), created=created)

    async def GetDownload(self, request: pb.GetDownloadRequest, context: Context) -> Any:
        """One download."""
        download = await self._downloads.get(request.id)
        return pb.GetDownloadResponse(download=convert.download_pb(download))

    async def ListDownloads(self, request: pb.ListDownloadsRequest, context: Context) -> Any:
        """Downloads, newest first."""
        page = page_of(request.page)
        rows, total = await self._downloads.list(page.size, page.offset)
        return pb.ListDownloadsResponse(
            downloads=[convert.download_pb(d) for d in rows], page_info=page.info(total)
        )

    async def WatchDownload(
        self, request: pb.WatchDownloadRequest, context: Context
    ) -> AsyncIterator[pb.WatchDownloadResponse]:
        """The download's progress, as it happens, until it ends."""
        async for download in self._downloads.watch(request.id):
            yield pb.WatchDownloadResponse(progress=convert.progress_pb(download))

    async def CancelDownload(self, request: pb.CancelDownloadRequest, context: Context) -> Any:
        """Stop a pending download."""
        download = await self._downloads.cancel(request.id, request.delete_partial)
        return pb.CancelDownloadResponse(download=convert.download_pb(download))

    async def ListAliases(self, request: pb.ListAliasesRequest, context: Context) -> Any:
        """User and derived aliases; every one when no page is asked for."""
        aliases = await self._aliases.all()
        key = _ALIAS_SORT.get(request.sort, _ALIAS_SORT[0])
        asked = request.HasField("page")
        page = page_of(request.page) if asked else Page(number=1, size=max(len(aliases), 1))
        rows, total = _sorted_page(aliases, key, request.sort_order, page)
        return pb.ListAliasesResponse(
            aliases=[convert.alias_pb(a) for a in rows], page_info=page.info(total)
        )

    async def GetUserAlias(self, request: pb.GetUserAliasRequest, context: Context) -> Any:
        """One user alias."""
        alias = await self._aliases.user(request.alias)
        return pb.GetUserAliasResponse(user_alias=convert.user_alias_pb(alias))

    async def CreateUserAlias(self, request: pb.CreateUserAliasRequest, context: Context) -> Any:
        """A new user alias for a cached file."""
        alias = await self._aliases.create(convert.user_alias_of(request))
        return pb.CreateUserAliasResponse(user_alias=convert.user_alias_pb(alias))

    async def UpdateUserAlias(self, request: pb.UpdateUserAliasRequest, context: Context) -> Any:
        """Create or replace a user alias."""
        alias, created = await self._aliases.upsert(convert.user_alias_of(request))
        return pb.UpdateUserAliasResponse(user_alias=convert.user_alias_pb(alias), created=created)

    async def DeleteUserAlias(self, request: pb.DeleteUserAliasRequest, context: Context) -> Any:
        """Remove a user alias."""
        await self._aliases.delete(request.alias)
        return pb.DeleteUserAliasResponse()

    async def ResolveAlias(self, request: pb.ResolveAliasRequest, context: Context) -> Any:
        """The local file (path) and parameters a model name stands for."""
        resolved = await self._aliases.resolve(request.name)
        alias, file = resolved.alias, resolved.file
        reply = pb.ResolveAliasResponse(
            alias=alias.alias,
            repo=file.repo,
            filename=file.filename,
            snapshot=file.snapshot,
            path=file.path,
            source=pb.ALIAS_SOURCE_MODEL,
        )
        if isinstance(alias, UserAlias):
            reply.source = pb.ALIAS_SOURCE_USER
            reply.request_params.CopyFrom(convert.params_pb(alias.request_params))
            reply.context_params.extend(alias.context_params)
        return reply  # fmt: skip

    async def GetModelMetadata(self, request: pb.GetModelMetadataRequest, context: Context) -> Any:
        """GGUF metadata of an alias's file or of a cached file."""
        if request.WhichOneof("target") == "alias":
            path = (await self._aliases.resolve(request.alias)).file.path
        else:
            ref = request.file
            file = cache.find(self._cache, ref.repo, ref.filename, ref.snapshot or "main")
            if file is None:
                raise NotFound("that file is not in the cache", code="hub_file_not_found")
            path = file.path
        metadata = await self._metadata.read(path)
        return pb.GetModelMetadataResponse(metadata=convert.metadata_pb(metadata))

    async def ListCatalog(self, request: pb.ListCatalogRequest, context: Context) -> Any:
        """The catalog, with whether each file is already cached."""
        page = page_of(request.page)
        models = self._catalog.models[page.offset : page.offset + page.size]
        cached = [cache.find(self._cache, m.repo, m.filename, m.snapshot) for m in models]
        entries = [
            convert.catalog_pb(m, c is not None) for m, c in zip(models, cached, strict=True)
        ]
        return pb.ListCatalogResponse(
            catalog_models=entries, page_info=page.info(len(self._catalog.models))
        )

    async def GetHubToken(self, request: pb.GetHubTokenRequest, context: Context) -> Any:
        """Where the Hub token in use comes from."""
        return await self._token_status()

    async def SetHubToken(self, request: pb.SetHubTokenRequest, context: Context) -> Any:
        """Store an admin's Hub token in secret-svc."""
        await self._tokens.store(request.token)
        return await self._token_status()

    async def DeleteHubToken(self, request: pb.DeleteHubTokenRequest, context: Context) -> Any:
        """Remove the stored Hub token."""
        await self._tokens.remove()
        return await self._token_status()

    async def _token_status(self) -> pb.HubTokenStatus:
        source, stored = await self._tokens.status()
        return pb.HubTokenStatus(source=_TOKEN_SOURCE[source], stored=stored)
