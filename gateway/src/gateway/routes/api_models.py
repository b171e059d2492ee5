"""Remote API models (reference §1.6): power users register OpenAI-compatible providers; keys
are stored by aiproxy-svc in secret-svc and only ever shown masked."""

from __future__ import annotations

from typing import Any

from litestar import delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from gateway.clients import Backends
from gateway.guards import POWER_USER_API, Guard
from gateway.identity import AuthContext
from gateway.rate_limits import RateLimits
from gateway.routes.tokens import Page, PageSize
from gateway.schemas.ai import (
    ApiFormats,
    ApiModelCreate,
    ApiModelOut,
    ApiModelPage,
    ApiModelUpdate,
    ProviderCheck,
    ProviderModels,
    TestPrompt,
    TestResult,
)

WRITE = [Guard(POWER_USER_API)]
PATH = "/bodhi/v1/api-models"
TAGS = ["api-models"]


@get(PATH, tags=TAGS, guards=WRITE)
async def api_models(
    ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends],
    page: Page = 1, page_size: PageSize = 30,
) -> ApiModelPage:  # fmt: skip
    """API models, newest first."""
    return await backends.aiproxy.page(ctx, page, page_size)


@post(PATH, tags=TAGS, guards=WRITE, status_code=HTTP_201_CREATED)
async def create_api_model(
    data: JSONBody[ApiModelCreate], ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> ApiModelOut:  # fmt: skip
    """Register a provider (the key is stored encrypted, shown masked)."""
    return await backends.aiproxy.create(ctx, data)


@get(f"{PATH}/api-formats", tags=TAGS, guards=WRITE)
async def api_formats() -> ApiFormats:
    """The provider wire formats supported."""
    return ApiFormats(data=["openai"])


@post(f"{PATH}/test", tags=TAGS, guards=WRITE, status_code=HTTP_200_OK)
async def test_api_model(
    data: JSONBody[TestPrompt], ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends], limits: NamedDependency[RateLimits],
) -> TestResult:  # fmt: skip
    """Send a short prompt (≤ 30 characters); the provider's failure comes back in the body."""
    await limits.spend(limits.provider_checks, ctx.user_id or "")
    return await backends.aiproxy.test(ctx, data)


@post(f"{PATH}/fetch-models", tags=TAGS, guards=WRITE, status_code=HTTP_200_OK)
async def fetch_models(
    data: JSONBody[ProviderCheck], ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends], limits: NamedDependency[RateLimits],
) -> ProviderModels:  # fmt: skip
    """The model ids a provider lists."""
    await limits.spend(limits.provider_checks, ctx.user_id or "")
    return ProviderModels(models=await backends.aiproxy.provider_models(ctx, data))


@get(f"{PATH}/{{model_id:str}}", tags=TAGS, guards=WRITE)
async def api_model(
    model_id: FromPath[str], ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> ApiModelOut:
    """One API model."""
    return await backends.aiproxy.get(ctx, model_id)


@put(f"{PATH}/{{model_id:str}}", tags=TAGS, guards=WRITE)
async def update_api_model(
    model_id: FromPath[str], data: JSONBody[ApiModelUpdate], ctx: NamedDependency[AuthContext],
    backends: NamedDependency[Backends],
) -> ApiModelOut:  # fmt: skip
    """Replace an API model's settings; the key changes only when `api_key` is sent."""
    return await backends.aiproxy.update(ctx, model_id, data)


@delete(f"{PATH}/{{model_id:str}}", tags=TAGS, guards=WRITE, status_code=HTTP_204_NO_CONTENT)
async def delete_api_model(
    model_id: FromPath[str], ctx: NamedDependency[AuthContext], backends: NamedDependency[Backends]
) -> None:
    """Remove an API model and its stored key."""
    await backends.aiproxy.delete(ctx, model_id)


ROUTES: list[Any] = [
    api_models, create_api_model, api_formats, test_api_model, fetch_models, api_model,
    update_api_model, delete_api_model,
]  # fmt: skip
