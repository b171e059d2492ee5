"""Runtime-editable settings: precedence environment > stored value > default, validated
updates, and callbacks that apply a new value at once (no restart). Where values are stored is a
`SettingStore` (a service's `settings` table; the gateway's Redis); every replica re-reads and
re-applies when one of them changes a value."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol

import msgspec

from bodhi_common.config import is_secret
from bodhi_common.errors import InvalidArgument, NotFound
from bodhi_common.setting_types import convert

log = logging.getLogger(__name__)
Apply = Callable[[Any], Awaitable[None] | None]
Source = Literal["environment", "database", "default"]


class SettingStore(Protocol):
    """Where stored values live; each write is audited with who made it."""

    async def load(self) -> dict[str, Any]:
        """Every stored value."""
        ...

    async def put(self, key: str, value: Any, actor: str) -> None:
        """Store a value."""
        ...

    async def delete(self, key: str, actor: str) -> None:
        """Remove a stored value."""
        ...


class LiveSettings:
    """One component's settings as they are now; see the module docstring."""

    def __init__(
        self, settings: msgspec.Struct, environ: Mapping[str, str], store: SettingStore
    ) -> None:
        self.settings = settings
        self._environ = environ
        self._store = store
        self.fields = {f.encode_name: f for f in msgspec.structs.fields(type(settings))}
        self._apply: dict[str, Apply] = {}
        self._stored: dict[str, Any] = {}

    def editable(self, key: str, apply: Apply) -> None:
        """Let administrators change `key`; `apply` receives each new value in effect."""
        assert key in self.fields, f"{key} is not a setting of this component"
        self._apply[key] = apply

    def is_editable(self, key: str) -> bool:
        """Whether `key` can be changed at run time."""
        return key in self._apply

    def source(self, key: str) -> Source:
        """Where the value in effect comes from."""
        if self._environ.get(key, "") != "":
            return "environment"
        return "database" if key in self._stored else "default"

    def value(self, key: str) -> Any:
        """The value in effect."""
        if self.source(key) == "database":
            return self._stored[key]
        return getattr(self.settings, self.fields[key].name)

    async def load(self) -> None:
        """Re-read the stored values (to report them; `refresh` also applies them)."""
        self._stored = await self._store.load()

    async def refresh(self) -> None:
        """Re-read the stored values and apply every editable one."""
        await self.load()
        for key, apply in self._apply.items():
            result = apply(self.value(key))
            if inspect.isawaitable(result):
                await result

    async def update(self, key: str, raw: Any, actor: str) -> None:
        """Validate and store a new value, then apply it."""
        field = self._checked(key)
        value = convert(key, field.type, raw)
        await self._store.put(key, value, actor)
        shown = "***" if is_secret(field) else value
        log.info("setting changed", extra={"key": key, "value": shown, "actor": actor})
        await self.refresh()

    async def reset(self, key: str, actor: str) -> None:
        """Remove the stored value (the environment's or the default applies), then apply it."""
        self._checked(key)
        await self._store.delete(key, actor)
        log.info("setting reset", extra={"key": key, "actor": actor})
        await self.refresh()

    def _checked(self, key: str) -> msgspec.structs.FieldInfo:
        field = self.fields.get(key)
        if field is None:
            raise NotFound(f"setting with key not found: {key}", code="settings_error-not_found")
        if key not in self._apply:
            raise InvalidArgument(
                f"updating setting {key} is not supported", code="settings_error-unsupported",
                param=key,
            )  # fmt: skip
        return field


class PostgresSettingStore:
    """A service's `settings` table; a trigger announces changes on `settings_changed`."""

    CHANNEL = "settings_changed"

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def load(self) -> dict[str, Any]:
        """Every stored value."""
        rows = await self._pool.fetch("SELECT key, value FROM settings")
        return {row["key"]: row["value"] for row in rows}

    async def put(self, key: str, value: Any, actor: str) -> None:
        """Store a value and its audit record in one transaction (the pool's jsonb codec
        encodes the value)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, now())"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
                key, value,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO settings_audit (key, value, actor) VALUES ($1, $2, $3)",
                key, value, actor,
            )  # fmt: skip

    async def delete(self, key: str, actor: str) -> None:
        """Remove a stored value; audited with a null value."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM settings WHERE key = $1", key)
            await conn.execute(
                "INSERT INTO settings_audit (key, value, actor) VALUES ($1, NULL, $2)", key, actor
            )
