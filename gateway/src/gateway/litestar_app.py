"""The application class of the gateway: Litestar with only its msgspec plugin.

Litestar adds its pydantic and attrs plugins whenever those packages can be imported, and so
imports pydantic (v1 and v2), attrs, pydantic-extra-types and opentelemetry at start-up: 10.6 MB
of resident memory (PERFORMANCE.md P9). The gateway's types are all msgspec Structs and none of
those packages is a dependency of it; they sit beside it only in the development environment
(the test SDKs need pydantic), which thus ran, and measured, a heavier gateway than the one
deployed. The OpenAPI document is the same either way.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.plugins import PluginProtocol
from litestar.plugins.core import MsgspecDIPlugin


class MsgspecLitestar(Litestar):
    """Litestar without the plugins for model libraries the gateway does not use."""

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        return [*plugins, MsgspecDIPlugin()]
