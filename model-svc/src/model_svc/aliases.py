"""Aliases: user aliases (model-svc's database) and aliases derived from cached files; the rules
for creating them and how a model name resolves to a local file."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from bodhi_common.clock import Clock
from bodhi_common.errors import InvalidArgument, NotFound
from model_svc import cache
from model_svc.alias_store import AliasStore
from model_svc.domain import LocalFile, ModelAlias, RequestParams, UserAlias

MAX_ALIAS = 128
_RANGES = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}
AnyAlias = UserAlias | ModelAlias


class Resolved(msgspec.Struct, frozen=True, kw_only=True):
    """A model name resolved to a local file, with the parameters a user alias adds."""

    alias: AnyAlias
    file: LocalFile


class Aliases:
    """User aliases and derived model aliases over the local cache."""

    def __init__(self, store: AliasStore, hub_cache: Path, clock: Clock) -> None:
        self._store = store
        self._cache = hub_cache
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def all(self) -> list[AnyAlias]:
        """User aliases, then derived aliases whose name no user alias takes."""
        users = await self._store.all()
        taken = {a.alias for a in users}
        scanned = await asyncio.to_thread(cache.model_aliases, self._cache)
        derived = [a for a in scanned if a.alias not in taken]
        return [*users, *derived]

    async def user(self, alias: str) -> UserAlias:
        """One user alias."""
        return await self._store.get(alias)

    async def create(self, alias: UserAlias) -> UserAlias:
        """A new user alias for a file that is in the cache."""
        return await self._store.create(self._checked(alias), self._now())

    async def upsert(self, alias: UserAlias) -> tuple[UserAlias, bool]:
        """Create or replace a user alias; (alias, created)."""
        return await self._store.upsert(self._checked(alias), self._now())

    async def delete(self, alias: str) -> None:
        """Remove a user alias."""
        await self._store.delete(alias)

    async def resolve(self, name: str) -> Resolved:
        """A user alias, else a derived alias, named `name`; NotFound otherwise (API aliases are
        aiproxy-svc's)."""
        try:
            found: AnyAlias = await self._store.get(name)
        except NotFound:
            repo, _, _ = name.rpartition(":")  # a derived alias is owner/name:QUALIFIER
            scanned = (
                await asyncio.to_thread(cache.model_aliases, self._cache, repo) if repo else []
            )
            derived = [a for a in scanned if a.alias == name]
            if not derived:
                raise NotFound(f"model {name!r} not found", code="alias_not_found") from None
            found = derived[0]
        file = cache.find(self._cache, found.repo, found.filename, found.snapshot)
        if file is None:
            raise NotFound(
                f"the file of alias {name!r} is no longer in the cache", code="hub_file_not_found"
            )
        return Resolved(alias=found, file=file)

    def _checked(self, alias: UserAlias) -> UserAlias:
        name = alias.alias
        if not 0 < len(name) <= MAX_ALIAS or not name.isprintable() or " " in name:
            raise InvalidArgument(
                f"an alias is 1 to {MAX_ALIAS} printable characters without spaces",
                code="invalid_alias", param="alias",
            )  # fmt: skip
        _check_params(alias.request_params)
        file = cache.find(  # which also refuses names that could leave the cache
            self._cache, alias.repo, alias.filename, alias.snapshot or "main"
        )
        if file is None:
            raise NotFound(
                f"{alias.filename} of {alias.repo} at {alias.snapshot or 'main'} is not in the"
                " local cache; pull it first",
                code="hub_file_not_found",
            )
        return msgspec.structs.replace(alias, snapshot=file.snapshot)


def _check_params(params: RequestParams) -> None:
    for name, (low, high) in _RANGES.items():
        value = getattr(params, name)
        if value is not None and (not math.isfinite(value) or not low <= value <= high):
            raise InvalidArgument(
                f"{name} must be between {low} and {high}", code="invalid_request_params",
                param=f"request_params.{name}",
            )  # fmt: skip
    if params.max_tokens is not None and params.max_tokens < 1:
        raise InvalidArgument(
            "max_tokens must be at least 1", code="invalid_request_params",
            param="request_params.max_tokens",
        )  # fmt: skip
    if len(params.stop) > 16 or any(not s for s in params.stop):
        raise InvalidArgument(
            "stop takes up to 16 non-empty strings", code="invalid_request_params",
            param="request_params.stop",
        )  # fmt: skip
