"""Settings of every component (reference §1.8, §10), for admins in a browser session: list
them all; change or reset the editable ones, which apply at once and are audited."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK

from gateway.clients import Backends
from gateway.guards import ADMIN_SESSION, Guard
from gateway.identity import AuthContext
from gateway.schemas.settings import SettingOut, SettingValue

ADMIN = [Guard(ADMIN_SESSION)]
PATH = "/bodhi/v1/settings"
TAGS = ["settings"]
Component = Annotated[
    str | None, Parameter(description="owner, when several components have the key")
]


@get(PATH, tags=TAGS, guards=ADMIN)
async def settings(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> list[SettingOut]:
    """Every setting of every component: value, default, source, type, editable."""
    return await backends.settings.all(ctx)


@put(f"{PATH}/{{key:str}}", tags=TAGS, guards=ADMIN)
async def update_setting(
    key: FromPath[str], data: JSONBody[SettingValue], ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends], component: FromQuery[Component] = None,
) -> SettingOut:  # fmt: skip
    """Change an editable setting; it takes effect at once on every replica."""
    return await backends.settings.update(ctx, key, component, data.value)


@delete(f"{PATH}/{{key:str}}", tags=TAGS, guards=ADMIN, status_code=HTTP_200_OK)
async def reset_setting(
    key: FromPath[str], ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends],
    component: FromQuery[Component] = None,
) -> SettingOut:  # fmt: skip
    """Remove a stored value: the environment's value or the default applies again."""
    return await backends.settings.reset(ctx, key, component)


ROUTES: list[Any] = [settings, update_setting, reset_setting]
