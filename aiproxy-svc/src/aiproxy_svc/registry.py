"""API models: their settings in the database, their keys in secret-svc, and the in-memory view
the proxy routes from.

The routing table and the decrypted keys are served from memory for at most
`cache_seconds`. Every write fires a PostgreSQL NOTIFY (a trigger, see the migration); each
replica LISTENs and drops its view at once. While the LISTEN connection is down the view is not
trusted at all (every lookup reads the database), so a change is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime

from aiproxy_svc.domain import ApiModel, ApiModelFields, mask
from aiproxy_svc.store import ApiModelStore, not_found
from bodhi_common.clock import Clock
from bodhi_common.errors import DataLoss
from bodhi_common.metrics import HitCounter
from bodhi_common.notify import listen_forever
from bodhi_common.vault import Vault

log = logging.getLogger(__name__)
CHANNEL = "api_models_changed"


def key_name(model_id: str) -> str:
    """The secret's name in aiproxy's vault namespace."""
    return f"api-key/{model_id}"


class ApiModels:
    """Create, change and look up API models; see the module docstring for the caching."""

    def __init__(
        self, store: ApiModelStore, vault: Vault, clock: Clock, cache_seconds: float
    ) -> None:
        self._store = store
        self._vault = vault
        self._clock = clock
        self._ttl = cache_seconds
        self._table: list[ApiModel] | None = None
        self._read_at = 0.0
        self.listening = asyncio.Event()  # set while the LISTEN connection is up
        self.lookups = HitCounter()  # of the routing table in memory

    # --- writes ---------------------------------------------------------------------------------

    async def create(self, model_id: str, fields: ApiModelFields, api_key: str) -> ApiModel:
        """A new API model; the row first, so a taken id never overwrites another's key."""
        model = await self._store.create(
            model_id or str(uuid.uuid4()), fields, mask(api_key), _now(self._clock)
        )
        try:
            await self._vault.put(key_name(model.id), api_key.encode())
        except BaseException:
            with contextlib.suppress(Exception):
                await self._store.delete(model.id)
            raise
        return model

    async def update(self, model_id: str, fields: ApiModelFields, api_key: str | None) -> ApiModel:
        """Replace the settings; the key only when a new one is given."""
        await self._store.get(model_id)  # 404 before any key is written
        if api_key is not None:
            await self._vault.put(key_name(model_id), api_key.encode())
        masked = None if api_key is None else mask(api_key)
        return await self._store.update(model_id, fields, masked, _now(self._clock))

    async def delete(self, model_id: str) -> None:
        """Remove the model, then its key."""
        await self._store.delete(model_id)
        await self._vault.delete(key_name(model_id))

    # --- reads ----------------------------------------------------------------------------------

    async def get(self, model_id: str) -> ApiModel:
        """One API model from the database."""
        return await self._store.get(model_id)

    async def page(self, offset: int, limit: int) -> tuple[list[ApiModel], int]:
        """A page of API models from the database."""
        return await self._store.page(offset, limit)

    async def table(self) -> list[ApiModel]:
        """Every API model, from memory when the view is fresh and trusted."""
        fresh = self._clock.monotonic() - self._read_at < self._ttl
        if self._table is not None and self.listening.is_set() and fresh:
            self.lookups.hits += 1
            return self._table
        self.lookups.misses += 1
        table = await self._store.all()
        if self.listening.is_set():
            self._table, self._read_at = table, self._clock.monotonic()
        return table

    async def route(self, name: str) -> tuple[ApiModel, str] | None:
        """The API model serving `name` and the upstream model name, if any serves it."""
        for model in await self.table():
            upstream = model.serves(name)
            if upstream is not None:
                return model, upstream
        return None

    async def key(self, model_id: str) -> str:
        """The decrypted key of an API model."""
        if not self.listening.is_set():
            self._vault.forget(key_name(model_id))
        value = await self._vault.get(key_name(model_id))
        if value is None:
            raise DataLoss(
                f"the key of api model {model_id!r} is missing; store it again",
                code="api_key_not_found",
            )
        return value.decode()

    async def stored(self, model_id: str) -> tuple[ApiModel, str]:
        """An API model and its key (NotFound for an unknown id)."""
        for model in await self.table():
            if model.id == model_id:
                return model, await self.key(model_id)
        raise not_found(model_id)

    # --- invalidation ---------------------------------------------------------------------------

    def drop(self, model_id: str | None = None) -> None:
        """Forget the cached table and a key (every key when no id is given)."""
        self._table = None
        self._vault.forget(None if model_id is None else key_name(model_id))

    async def listen(self, database_url: str) -> None:
        """Hold a LISTEN connection for the life of the service, reconnecting when it drops."""
        await listen_forever(database_url, CHANNEL, self._on_change, self._up, self._down)

    def _up(self) -> None:
        self.drop()  # anything cached while not listening is suspect
        self.listening.set()

    def _down(self) -> None:
        self.listening.clear()
        self.drop()

    def _on_change(self, payload: str) -> None:
        self.drop(payload or None)


def _now(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)
