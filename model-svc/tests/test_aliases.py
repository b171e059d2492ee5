"""User aliases, derived aliases and how a model name resolves to a local file."""

from __future__ import annotations

from pathlib import Path

import grpc
from huggingface_hub import hf_hub_download

from bodhi.model.v1 import model_pb2 as pb
from bodhi.model.v1.model_pb2_grpc import ModelServiceStub
from bodhi_devstack.hub import LocalHub

from support import as_power_user, finished, refusal, service_env, serving

MD = as_power_user()
REPO, FILE = "acme/tiny-GGUF", "tiny.Q8_0.gguf"


async def cached(models: ModelServiceStub, hub: LocalHub, repo: str, filename: str) -> str:
    """Put a GGUF in the cache through a pull; its commit."""
    file = hub.add_gguf(repo, filename, name="tiny", context_length=2048, parameter_count=1_100)
    started = await models.PullFile(pb.PullFileRequest(repo=repo, filename=filename), metadata=MD)
    assert (await finished(models, started.download.id)).status == pb.DOWNLOAD_STATUS_COMPLETED
    return file.commit


def alias_request(**fields: object) -> pb.CreateUserAliasRequest:
    base: dict[str, object] = {
        "alias": "tiny:chat",
        "repo": "acme/tiny-GGUF",
        "filename": "tiny.Q8_0.gguf",
    }
    return pb.CreateUserAliasRequest(**(base | fields))


async def test_a_user_alias_names_a_cached_file_with_defaults(
    models: ModelServiceStub, local_hub: LocalHub
) -> None:
    commit = await cached(models, local_hub, "acme/tiny-GGUF", "tiny.Q8_0.gguf")
    params = pb.RequestParams(temperature=0.2, stop=["</s>"], max_tokens=64)
    created = await models.CreateUserAlias(
        alias_request(request_params=params, context_params=["--ctx-size", "2048"]), metadata=MD
    )
    assert created.user_alias.snapshot == commit  # "main" resolved to the commit
    resolved = await models.ResolveAlias(pb.ResolveAliasRequest(name="tiny:chat"), metadata=MD)
    assert resolved.source == pb.ALIAS_SOURCE_USER
    assert Path(resolved.path).is_file()
    assert resolved.request_params.temperature == 0.2
    assert list(resolved.context_params) == ["--ctx-size", "2048"]
    again = await refusal(models.CreateUserAlias(alias_request(), metadata=MD))
    assert again == (grpc.StatusCode.ALREADY_EXISTS, "alias_exists")


async def test_derived_aliases_come_from_refs_main(
    models: ModelServiceStub, local_hub: LocalHub
) -> None:
    await cached(models, local_hub, "acme/tiny-GGUF", "tiny.Q8_0.gguf")
    listed = await models.ListAliases(pb.ListAliasesRequest(), metadata=MD)
    names = [a.model.alias for a in listed.aliases if a.WhichOneof("kind") == "model"]
    assert names == ["acme/tiny-GGUF:Q8_0"]
    resolved = await models.ResolveAlias(
        pb.ResolveAliasRequest(name="acme/tiny-GGUF:Q8_0"), metadata=MD
    )
    assert resolved.source == pb.ALIAS_SOURCE_MODEL


async def test_files_put_there_by_huggingface_hub_are_listed(
    models: ModelServiceStub, local_hub: LocalHub, env: dict[str, str]
) -> None:
    local_hub.add_gguf("other/model-GGUF", "model.Q4_0.gguf")
    hf_hub_download(
        "other/model-GGUF", "model.Q4_0.gguf", cache_dir=Path(env["HF_HOME"]) / "hub",
        endpoint=local_hub.url, token=False,
    )  # fmt: skip
    listed = await models.ListLocalFiles(pb.ListLocalFilesRequest(), metadata=MD)
    assert [f.filename for f in listed.local_files] == ["model.Q4_0.gguf"]


async def test_alias_validation(models: ModelServiceStub, local_hub: LocalHub) -> None:
    await cached(models, local_hub, "acme/tiny-GGUF", "tiny.Q8_0.gguf")
    cases = [
        (alias_request(filename="absent.gguf"), grpc.StatusCode.NOT_FOUND, "hub_file_not_found"),
        (alias_request(alias="has space"), grpc.StatusCode.INVALID_ARGUMENT, "invalid_alias"),
        (alias_request(repo="noslash"), grpc.StatusCode.INVALID_ARGUMENT, "invalid_repo"),
        (
            alias_request(request_params=pb.RequestParams(temperature=9)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request_params",
        ),
    ]
    for request, status, code in cases:
        assert await refusal(models.CreateUserAlias(request, metadata=MD)) == (status, code)


async def test_update_is_an_upsert_that_replaces_parameters(
    models: ModelServiceStub, local_hub: LocalHub
) -> None:
    await cached(models, local_hub, "acme/tiny-GGUF", "tiny.Q8_0.gguf")
    first = pb.UpdateUserAliasRequest(
        alias="tiny:x", repo="acme/tiny-GGUF", filename="tiny.Q8_0.gguf",
        request_params=pb.RequestParams(temperature=0.5),
    )  # fmt: skip
    assert (await models.UpdateUserAlias(first, metadata=MD)).created
    second = pb.UpdateUserAliasRequest(
        alias="tiny:x", repo="acme/tiny-GGUF", filename="tiny.Q8_0.gguf"
    )
    replaced = await models.UpdateUserAlias(second, metadata=MD)
    assert not replaced.created
    assert not replaced.user_alias.request_params.HasField("temperature")
    await models.DeleteUserAlias(pb.DeleteUserAliasRequest(alias="tiny:x"), metadata=MD)
    gone = await refusal(models.GetUserAlias(pb.GetUserAliasRequest(alias="tiny:x"), metadata=MD))
    assert gone == (grpc.StatusCode.NOT_FOUND, "alias_not_found")


async def test_metadata_of_a_cached_file(models: ModelServiceStub, local_hub: LocalHub) -> None:
    await cached(models, local_hub, "acme/tiny-GGUF", "tiny.Q8_0.gguf")
    await models.CreateUserAlias(alias_request(), metadata=MD)
    reply = await models.GetModelMetadata(
        pb.GetModelMetadataRequest(alias="tiny:chat"), metadata=MD
    )
    meta = reply.metadata
    assert (meta.name, meta.architecture, meta.context_length) == ("tiny", "llama", 2048)
    assert meta.parameter_count == 1_100
    assert meta.file_size > 0


async def test_unknown_names_do_not_resolve(models: ModelServiceStub) -> None:
    reply = await refusal(models.ResolveAlias(pb.ResolveAliasRequest(name="nope"), metadata=MD))
    assert reply == (grpc.StatusCode.NOT_FOUND, "alias_not_found")


async def test_a_catalog_pull_creates_its_alias_when_done(
    database_url: str, tmp_path: Path, local_hub: LocalHub
) -> None:
    local_hub.add_gguf("acme/cat-GGUF", "cat.Q4_0.gguf")
    catalog = tmp_path / "models.yaml"
    catalog.write_text(
        "- alias: cat:chat\n  repo: acme/cat-GGUF\n  filename: cat.Q4_0.gguf\n"
        "  request_params: {temperature: 0.3}\n  context_params: ['--ctx-size', '1024']\n"
    )
    env = service_env(database_url, tmp_path / "hf", local_hub.url, BODHI_CATALOG_FILE=str(catalog))
    async with serving(env) as models:
        listed = await models.ListCatalog(pb.ListCatalogRequest(), metadata=MD)
        assert [(m.alias, m.downloaded) for m in listed.catalog_models] == [("cat:chat", False)]
        started = await models.PullAlias(pb.PullAliasRequest(alias="cat:chat"), metadata=MD)
        assert (await finished(models, started.download.id)).status == pb.DOWNLOAD_STATUS_COMPLETED
        alias = await models.GetUserAlias(pb.GetUserAliasRequest(alias="cat:chat"), metadata=MD)
        assert alias.user_alias.request_params.temperature == 0.3
        assert list(alias.user_alias.context_params) == ["--ctx-size", "1024"]
        again = models.PullAlias(pb.PullAliasRequest(alias="cat:chat"), metadata=MD)
        assert await refusal(again) == (grpc.StatusCode.FAILED_PRECONDITION, "alias_exists")
        unknown = models.PullAlias(pb.PullAliasRequest(alias="nope"), metadata=MD)
        assert await refusal(unknown) == (grpc.StatusCode.NOT_FOUND, "catalog_model_not_found")
