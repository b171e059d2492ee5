"""API models: validation, the key kept in secret-svc only, and changes seen by every replica."""

from __future__ import annotations

import asyncio

import asyncpg
import grpc
import pytest

from aiproxy_svc.server import SPEC
from aiproxy_svc.settings import AiProxySettings
from bodhi.aiproxy.v1 import aiproxy_pb2 as pb
from bodhi.aiproxy.v1 import aiproxy_pb2_grpc
from bodhi_common.bootstrap import running_service
from bodhi_common.clock import SystemClock
from bodhi_common.config import load
from bodhi_devstack.upstream import LocalUpstream

from support import Services, as_user, chat, create_request, refusal

MD = as_user()
HI = [{"role": "user", "content": "hi"}]


async def test_create_get_list_update_delete(svc: Services, upstream: LocalUpstream) -> None:
    created = (
        await svc.aiproxy.CreateApiModel(
            create_request(upstream.url + "/", api_key="sk-test-0123456789abcdef", prefix="up/"),
            metadata=MD,
        )
    ).api_model
    assert created.base_url == upstream.url  # trailing slash trimmed
    assert created.api_key_masked == "sk-...cdef"
    assert created.prefix == "up/"
    got = (
        await svc.aiproxy.GetApiModel(pb.GetApiModelRequest(id=created.id), metadata=MD)
    ).api_model
    assert got == created
    listed = await svc.aiproxy.ListApiModels(pb.ListApiModelsRequest(), metadata=MD)
    assert [m.id for m in listed.api_models] == [created.id]
    assert listed.page_info.total == 1

    update = pb.UpdateApiModelRequest(
        id=created.id, api_format=pb.API_FORMAT_OPENAI, base_url=upstream.url,
        models=["gpt-test", "text-embed"], prefix="",
    )  # fmt: skip
    updated = (await svc.aiproxy.UpdateApiModel(update, metadata=MD)).api_model
    assert not updated.HasField("prefix")  # "" means none
    assert updated.api_key_masked == "sk-...cdef"  # no key sent: the stored one stays
    assert list(updated.models) == ["gpt-test", "text-embed"]

    await svc.aiproxy.DeleteApiModel(pb.DeleteApiModelRequest(id=created.id), metadata=MD)
    gone = svc.aiproxy.GetApiModel(pb.GetApiModelRequest(id=created.id), metadata=MD)
    assert await refusal(gone) == (grpc.StatusCode.NOT_FOUND, "api_model_not_found")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"base_url": "ftp://example.com/v1"}, "invalid_base_url"),
        ({"base_url": "not a url"}, "invalid_base_url"),
        ({"base_url": "http://user:pw@example.com/v1"}, "invalid_base_url"),
        ({"models": []}, "invalid_models"),
        ({"models": ["ok", " "]}, "invalid_models"),
        ({"api_key": ""}, "invalid_api_key"),
        ({"api_format": pb.API_FORMAT_UNSPECIFIED}, "invalid_api_format"),
    ],
)
async def test_invalid_settings_are_refused(
    svc: Services, upstream: LocalUpstream, fields: dict[str, object], code: str
) -> None:
    call = svc.aiproxy.CreateApiModel(create_request(upstream.url, **fields), metadata=MD)
    assert await refusal(call) == (grpc.StatusCode.INVALID_ARGUMENT, code)
    assert not (await svc.aiproxy.ListApiModels(pb.ListApiModelsRequest(), metadata=MD)).api_models


async def test_a_taken_id_is_refused_without_touching_its_key(
    svc: Services, upstream: LocalUpstream
) -> None:
    await svc.aiproxy.CreateApiModel(create_request(upstream.url, id="mine"), metadata=MD)
    again = svc.aiproxy.CreateApiModel(
        create_request(upstream.url, id="mine", api_key="sk-other"), metadata=MD
    )
    assert await refusal(again) == (grpc.StatusCode.ALREADY_EXISTS, "api_model_exists")
    start, _ = await chat(svc.aiproxy, {"model": "gpt-test", "messages": HI})
    assert start.http_status == 200
    assert upstream.requests[-1].headers["authorization"] == "Bearer sk-test"


async def test_the_key_is_stored_in_secret_svc_never_in_aiproxys_database(
    svc: Services, upstream: LocalUpstream
) -> None:
    key = "sk-live-key-that-must-stay-secret-42"
    await svc.aiproxy.CreateApiModel(create_request(upstream.url, api_key=key), metadata=MD)
    conn = await asyncpg.connect(svc.env["DATABASE_URL"])
    try:
        rows = await conn.fetch("SELECT row_to_json(a)::text AS r FROM api_models a")
    finally:
        await conn.close()
    assert rows
    assert all(key not in r["r"] for r in rows)
    assert all(key[4:20] not in r["r"] for r in rows)


async def test_a_stored_key_only_goes_to_its_own_base_url(
    svc: Services, upstream: LocalUpstream
) -> None:
    created = (
        await svc.aiproxy.CreateApiModel(create_request(upstream.url), metadata=MD)
    ).api_model
    with LocalUpstream(api_key=None, models=["gpt-test"]) as foreign:
        test = pb.TestApiModelRequest(
            id=created.id, base_url=foreign.url, model="gpt-test", prompt="hello"
        )
        reply = await svc.aiproxy.TestApiModel(test, metadata=MD)
        fetch = pb.FetchProviderModelsRequest(id=created.id, base_url=foreign.url)
        models = (await svc.aiproxy.FetchProviderModels(fetch, metadata=MD)).models
        assert foreign.requests == []
    assert reply.success
    assert reply.response == "echo: hello"
    assert list(models) == ["gpt-test", "text-embed"]
    assert all(r.headers["authorization"] == "Bearer sk-test" for r in upstream.requests)


async def test_provider_failures_are_answers_and_never_quote_the_key(
    svc: Services, upstream: LocalUpstream
) -> None:
    wrong = pb.TestApiModelRequest(
        api_key="sk-wrong-key-123456", base_url=upstream.url, model="gpt-test", prompt="hi"
    )
    reply = await svc.aiproxy.TestApiModel(wrong, metadata=MD)
    assert not reply.success
    assert "sk-wrong-key-123456" not in reply.error
    too_long = pb.TestApiModelRequest(
        api_key="sk-test", base_url=upstream.url, model="gpt-test", prompt="x" * 31
    )
    assert await refusal(svc.aiproxy.TestApiModel(too_long, metadata=MD)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "prompt_too_long",
    )  # fmt: skip
    neither = pb.FetchProviderModelsRequest(base_url=upstream.url)
    assert await refusal(svc.aiproxy.FetchProviderModels(neither, metadata=MD)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "api_key_or_id_required",
    )  # fmt: skip
    refused = pb.FetchProviderModelsRequest(api_key="sk-wrong", base_url=upstream.url)
    assert await refusal(svc.aiproxy.FetchProviderModels(refused, metadata=MD)) == (
        grpc.StatusCode.UNAUTHENTICATED, "provider_unauthorized",
    )  # fmt: skip


async def test_a_change_reaches_every_replica_at_once(
    svc: Services, upstream: LocalUpstream
) -> None:
    """A second aiproxy on the same database has the model warm in its cache; an update made
    through the first one changes where the second routes, with no wait for a TTL."""
    created = (
        await svc.aiproxy.CreateApiModel(create_request(upstream.url), metadata=MD)
    ).api_model
    settings = load(AiProxySettings, svc.env)
    async with (
        running_service(SPEC, settings, SystemClock(), svc.env) as second,
        grpc.aio.insecure_channel(f"127.0.0.1:{second.port}") as channel,
    ):
        other = aiproxy_pb2_grpc.AiProxyServiceStub(channel)
        start, _ = await chat(other, {"model": "gpt-test", "messages": HI})
        assert start.http_status == 200  # warm now
        with LocalUpstream(api_key="sk-new", models=["gpt-test"]) as moved:
            # A change that announces nothing is not seen: the warm path reads no database.
            await _quietly(
                svc.env["DATABASE_URL"], "UPDATE api_models SET base_url = $1", moved.url
            )
            await chat(other, {"model": "gpt-test", "messages": HI})
            assert moved.requests == []
            update = pb.UpdateApiModelRequest(
                id=created.id, api_format=pb.API_FORMAT_OPENAI, base_url=moved.url,
                models=["gpt-test"], api_key="sk-new",
            )  # fmt: skip
            await svc.aiproxy.UpdateApiModel(update, metadata=MD)
            for _ in range(50):  # the NOTIFY travels asynchronously: allow it up to a second
                start, _ = await chat(other, {"model": "gpt-test", "messages": HI})
                if moved.requests:
                    break
                await asyncio.sleep(0.02)
            assert start.http_status == 200
            assert moved.requests[-1].headers["authorization"] == "Bearer sk-new"
        await svc.aiproxy.DeleteApiModel(pb.DeleteApiModelRequest(id=created.id), metadata=MD)
        for _ in range(50):
            try:
                await chat(other, {"model": "gpt-test", "messages": HI})
            except grpc.aio.AioRpcError as err:
                code = err.code()
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the deleted model still routes")
        assert code == grpc.StatusCode.NOT_FOUND


async def _quietly(database_url: str, sql: str, *args: object) -> None:
    """Run `sql` with the change trigger off, as if the NOTIFY were lost."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE api_models DISABLE TRIGGER api_models_changed")
            await conn.execute(sql, *args)
            await conn.execute("ALTER TABLE api_models ENABLE TRIGGER api_models_changed")
    finally:
        await conn.close()
