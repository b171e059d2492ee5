"""Model files, pulls and aliases (reference §1.4, §1.5, §9): users read, power users change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Annotated, Any

import msgspec
from litestar import Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from bodhi_common.errors import InvalidArgument, ServiceError
from gateway.clients import Backends
from gateway.guards import POWER_USER_API, USER_API, Guard
from gateway.identity import AuthContext
from gateway.rate_limits import RateLimits
from gateway.routes.tokens import Page, PageSize
from gateway.schemas.ai import ApiAliasOut
from gateway.schemas.models import (
    AliasBody,
    AliasPage,
    AliasSort,
    AnyAlias,
    CatalogPage,
    DownloadOut,
    DownloadPage,
    FileSort,
    LocalFilePage,
    MetadataOut,
    ModelAliasOut,
    PullRequest,
    UserAliasOut,
)

READ = [Guard(USER_API)]
WRITE = [Guard(POWER_USER_API)]
Order = Annotated[str, Parameter(pattern="^(asc|desc|ASC|DESC)$")]


def _created(download: DownloadOut, created: bool) -> Response[DownloadOut]:
    return Response(download, status_code=HTTP_201_CREATED if created else HTTP_200_OK)


@get("/bodhi/v1/modelfiles", tags=["models"], guards=READ)
async def local_files(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends],
    page: Page = 1, page_size: PageSize = 30,
    sort: FromQuery[FileSort] = "repo", sort_order: Order = "asc",
) -> LocalFilePage:  # fmt: skip
    """GGUF files in the local cache (including ones other tools put there)."""
    descending = sort_order.lower() == "desc"
    return await backends.model.local_files(ctx, page, page_size, sort, descending)


@get("/bodhi/v1/modelfiles/metadata", tags=["models"], guards=READ)
async def file_metadata(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends],
    repo: FromQuery[str], filename: FromQuery[str], snapshot: FromQuery[str] = "main",
) -> MetadataOut:  # fmt: skip
    """GGUF metadata of a cached file."""
    return await backends.model.metadata(ctx, file=(repo, filename, snapshot))


@get("/bodhi/v1/modelfiles/catalog", tags=["models"], guards=READ)
async def catalog(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends],
    page: Page = 1, page_size: PageSize = 30,
) -> CatalogPage:  # fmt: skip
    """Models that can be pulled by alias."""
    return await backends.model.catalog(ctx, page, page_size)


@post("/bodhi/v1/modelfiles/pull", tags=["downloads"], guards=WRITE)
async def pull(
    data: JSONBody[PullRequest],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    limits: NamedDependency[RateLimits],
) -> Response[DownloadOut]:
    """201 with a new download, or 200 with the one already pending for that file."""
    await limits.spend(limits.pulls, ctx.user_id or "")
    return _created(*await backends.model.pull(ctx, data.repo, data.filename, data.revision))


@post("/bodhi/v1/modelfiles/pull/{alias:str}", tags=["downloads"], guards=WRITE)
async def pull_alias(
    alias: FromPath[str], ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends],
    limits: NamedDependency[RateLimits],
) -> Response[DownloadOut]:  # fmt: skip
    """Pull a catalog model; its user alias is created when the download completes."""
    await limits.spend(limits.pulls, ctx.user_id or "")
    return _created(*await backends.model.pull_alias(ctx, alias))


@get("/bodhi/v1/modelfiles/pull", tags=["downloads"], guards=WRITE)
async def downloads(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends],
    page: Page = 1, page_size: PageSize = 30,
) -> DownloadPage:  # fmt: skip
    """Downloads, newest first."""
    return await backends.model.downloads(ctx, page, page_size)


@get("/bodhi/v1/modelfiles/pull/{download_id:str}", tags=["downloads"], guards=WRITE)
async def download(
    download_id: FromPath[str],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> DownloadOut:
    """One download's progress."""
    return await backends.model.download(ctx, download_id)


@get("/bodhi/v1/modelfiles/pull/{download_id:str}/events", tags=["downloads"], guards=WRITE)
async def download_events(
    download_id: FromPath[str],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> ServerSentEvent:
    """Server-sent events: the download's state now, then each change until it ends."""
    await backends.model.download(ctx, download_id)  # 404 before the stream starts

    async def events() -> AsyncGenerator[dict[str, str], None]:
        async for progress in backends.model.watch(ctx, download_id):
            yield {"event": "progress", "data": msgspec.json.encode(progress).decode()}

    return ServerSentEvent(events(), headers={"Cache-Control": "no-cache"})


@delete(
    "/bodhi/v1/modelfiles/pull/{download_id:str}",
    tags=["downloads"],
    guards=WRITE,
    status_code=HTTP_200_OK,
)
async def cancel(
    download_id: FromPath[str],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
    delete_partial: FromQuery[bool] = False,
) -> DownloadOut:
    """Cancel a pending download; the partial file is kept for a later pull unless asked."""
    return await backends.model.cancel(ctx, download_id, delete_partial)


_NAME = {UserAliasOut: 0, ModelAliasOut: 1, ApiAliasOut: 2}
_ALIAS_KEY: dict[str, Callable[[AnyAlias], Any]] = {
    "alias": lambda a: _name(a),
    "name": lambda a: _name(a),
    "repo": lambda a: (getattr(a, "repo", ""), _name(a)),
    "filename": lambda a: (getattr(a, "filename", ""), _name(a)),
    "source": lambda a: (_NAME[type(a)], _name(a)),
}


def _name(alias: AnyAlias) -> str:
    return alias.id if isinstance(alias, ApiAliasOut) else alias.alias


@get("/bodhi/v1/models", tags=["models"], guards=READ)
async def aliases(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends],
    page: Page = 1, page_size: PageSize = 30,
    sort: FromQuery[AliasSort] = "alias", sort_order: Order = "asc",
) -> AliasPage:  # fmt: skip
    """User aliases, aliases derived from cached files and API models (source api), sorted and
    paged."""
    local, api = await asyncio.gather(backends.model.all_aliases(ctx), backends.aiproxy.all(ctx))
    items: list[AnyAlias] = [alias for alias, _ in local] + list(api)
    items.sort(key=_ALIAS_KEY[sort], reverse=sort_order.lower() == "desc")
    size = min(max(page_size, 1), 100)
    start = (max(page, 1) - 1) * size
    return AliasPage(data=items[start : start + size], total=len(items), page=page, page_size=size)


@get("/bodhi/v1/models/{alias:str}", tags=["models"], guards=READ)
async def user_alias(
    alias: FromPath[str], ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> UserAliasOut:
    """A user alias, with its file's GGUF metadata in model_params (empty when unreadable)."""
    found = await backends.model.user_alias(ctx, alias)
    try:
        meta = await backends.model.metadata(ctx, alias=alias)
    except ServiceError:
        return found
    return msgspec.structs.replace(found, model_params=msgspec.to_builtins(meta))


@post("/bodhi/v1/models", tags=["models"], guards=WRITE, status_code=HTTP_201_CREATED)
async def create_alias(
    data: JSONBody[AliasBody],
    ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> UserAliasOut:
    """A new user alias for a cached file (no automatic download)."""
    if not data.alias:
        raise InvalidArgument("alias is required", code="invalid_alias", param="alias")
    return await backends.model.create_alias(ctx, data, data.alias)


@put("/bodhi/v1/models/{alias:str}", tags=["models"], guards=WRITE)
async def put_alias(
    alias: FromPath[str], data: JSONBody[AliasBody], ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> Response[UserAliasOut]:  # fmt: skip
    """Create or replace a user alias (omitted parameters are cleared); 200 either way, as the
    reference answers."""
    found, _created = await backends.model.put_alias(ctx, data, alias)
    return Response(found, status_code=HTTP_200_OK)


@delete(
    "/bodhi/v1/models/{alias:str}", tags=["models"], guards=WRITE, status_code=HTTP_204_NO_CONTENT
)
async def delete_alias(
    alias: FromPath[str], ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> None:
    """Remove a user alias (the file stays in the cache)."""
    await backends.model.delete_alias(ctx, alias)


ROUTES: list[Any] = [
    local_files, file_metadata, catalog, pull, pull_alias, downloads, download, download_events,
    cancel, aliases, user_alias, create_alias, put_alias, delete_alias,
]  # fmt: skip
