"""API tokens through AuthService: minting (scope ≤ the creator's current role), owner-scoped
listing and changes, bearer authentication at min(scope, owner's role), and storage that keeps
only a lookup prefix and a SHA-256 digest (reliability-security A1, A3)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import grpc

from auth_svc.domain import Role
from bodhi.auth.v1 import auth_pb2 as pb
from bodhi.auth.v1.auth_pb2_grpc import AuthServiceStub
from bodhi.common.v1 import common_pb2

from support import add_person, as_gateway, as_person, dump_database, refusal, serving_auth, sql

TOKEN_FORMAT = re.compile(r"bodhiapp_[A-Za-z0-9_-]{43}")
ESCALATION = (grpc.StatusCode.PERMISSION_DENIED, "privilege_escalation")
INVALID = (grpc.StatusCode.UNAUTHENTICATED, "token_invalid")
Stub = AuthServiceStub


async def mint(auth: Stub, owner: str, scope: int = pb.TOKEN_SCOPE_USER, name: str = "") -> str:
    request = pb.CreateApiTokenRequest(name=name, scope=scope)
    return (await auth.CreateApiToken(request, metadata=as_person(owner))).token


async def bearer(auth: Stub, token: str) -> pb.Principal:
    request = pb.AuthenticateBearerRequest(token=token)
    return (await auth.AuthenticateBearer(request, metadata=as_gateway())).principal


async def bearer_refusal(auth: Stub, token: str) -> tuple[grpc.StatusCode, str]:
    request = pb.AuthenticateBearerRequest(token=token)
    return await refusal(auth.AuthenticateBearer(request, metadata=as_gateway()))


async def update(auth: Stub, owner: str, token_id: str, **fields: Any) -> pb.ApiToken:
    request = pb.UpdateApiTokenRequest(id=token_id, **fields)
    return (await auth.UpdateApiToken(request, metadata=as_person(owner))).api_token


async def test_a_new_token_is_bodhiapp_and_43_url_safe_chars_shown_once(
    auth: Stub, database_url: str
) -> None:
    await add_person(database_url, "pat", Role.POWER_USER)
    request = pb.CreateApiTokenRequest(name="ci", scope=pb.TOKEN_SCOPE_POWER_USER)
    created = await auth.CreateApiToken(request, metadata=as_person("pat"))
    assert TOKEN_FORMAT.fullmatch(created.token)
    assert len(created.token) == 52
    row = created.api_token
    assert (row.name, row.user_id, row.token_prefix) == ("ci", "pat", created.token[:17])
    assert (row.scope, row.status) == (pb.TOKEN_SCOPE_POWER_USER, pb.API_TOKEN_STATUS_ACTIVE)
    listed = await auth.ListApiTokens(pb.ListApiTokensRequest(), metadata=as_person("pat"))
    assert created.token[17:].encode() not in listed.SerializeToString()


CEILINGS = [  # (role, the highest scope it may mint, the lowest it may not)
    (Role.USER, pb.TOKEN_SCOPE_USER, pb.TOKEN_SCOPE_POWER_USER),
    (Role.POWER_USER, pb.TOKEN_SCOPE_POWER_USER, pb.TOKEN_SCOPE_MANAGER),
    (Role.MANAGER, pb.TOKEN_SCOPE_MANAGER, pb.TOKEN_SCOPE_ADMIN),
    (Role.ADMIN, pb.TOKEN_SCOPE_ADMIN, None),
]


async def test_a_token_scope_cannot_exceed_the_creators_current_role(
    auth: Stub, database_url: str
) -> None:
    for role, allowed, refused in CEILINGS:
        await add_person(database_url, role.wire, role)
        principal = await bearer(auth, await mint(auth, role.wire, allowed))
        assert principal.scope_level == allowed
        if refused is not None:
            request = pb.CreateApiTokenRequest(scope=refused)
            creator = as_person(role.wire)
            assert await refusal(auth.CreateApiToken(request, metadata=creator)) == ESCALATION


async def test_the_role_is_read_from_the_database_not_the_callers_claim(
    auth: Stub, database_url: str
) -> None:
    await add_person(database_url, "newcomer")  # no role yet
    request = pb.CreateApiTokenRequest(scope=pb.TOKEN_SCOPE_USER)
    claimed_admin = as_person("newcomer", "resource_admin")
    assert await refusal(auth.CreateApiToken(request, metadata=claimed_admin)) == ESCALATION


async def test_listing_shows_only_the_callers_tokens_newest_first_without_a_hash(
    auth: Stub, database_url: str
) -> None:
    await add_person(database_url, "ann", Role.USER)
    await add_person(database_url, "bob", Role.USER)
    tokens = [await mint(auth, "ann", name=f"t{i}") for i in range(3)]
    await mint(auth, "bob", name="bobs")
    page = common_pb2.PageRequest(page=1, page_size=2)
    first = await auth.ListApiTokens(pb.ListApiTokensRequest(page=page), metadata=as_person("ann"))
    page2 = common_pb2.PageRequest(page=2, page_size=2)
    second = await auth.ListApiTokens(
        pb.ListApiTokensRequest(page=page2), metadata=as_person("ann")
    )
    names = [t.name for t in (*first.api_tokens, *second.api_tokens)]
    assert names == ["t2", "t1", "t0"]
    assert first.page_info.total == 3
    assert "token_hash" not in pb.ApiToken.DESCRIPTOR.fields_by_name
    wire = first.SerializeToString() + second.SerializeToString()
    for token in tokens:
        assert hashlib.sha256(token.encode()).hexdigest().encode() not in wire


async def test_owners_rename_deactivate_reactivate_and_delete_their_tokens(
    auth: Stub, database_url: str
) -> None:
    await add_person(database_url, "ann", Role.USER)
    created = await auth.CreateApiToken(
        pb.CreateApiTokenRequest(name="old", scope=pb.TOKEN_SCOPE_USER), metadata=as_person("ann")
    )
    token, token_id = created.token, created.api_token.id
    assert (await update(auth, "ann", token_id, name="new")).name == "new"
    off = await update(auth, "ann", token_id, status=pb.API_TOKEN_STATUS_INACTIVE)
    assert off.status == pb.API_TOKEN_STATUS_INACTIVE
    assert await bearer_refusal(auth, token) == (grpc.StatusCode.UNAUTHENTICATED, "token_inactive")
    await update(auth, "ann", token_id, status=pb.API_TOKEN_STATUS_ACTIVE)
    assert (await bearer(auth, token)).token_id == token_id
    await auth.DeleteApiToken(pb.DeleteApiTokenRequest(id=token_id), metadata=as_person("ann"))
    assert await bearer_refusal(auth, token) == INVALID


async def test_only_your_own_token_can_be_changed(auth: Stub, database_url: str) -> None:
    await add_person(database_url, "ann", Role.USER)
    await add_person(database_url, "eve", Role.ADMIN)
    created = await auth.CreateApiToken(
        pb.CreateApiTokenRequest(scope=pb.TOKEN_SCOPE_USER), metadata=as_person("ann")
    )
    eve = as_person("eve", "resource_admin")
    not_found = (grpc.StatusCode.NOT_FOUND, "token_not_found")
    unknown = "00000000-0000-4000-8000-000000000000"
    for token_id in (created.api_token.id, "not-a-uuid'; --", unknown):
        rename = pb.UpdateApiTokenRequest(id=token_id, name="mine now")
        assert await refusal(auth.UpdateApiToken(rename, metadata=eve)) == not_found
        off = pb.UpdateApiTokenRequest(id=token_id, status=pb.API_TOKEN_STATUS_INACTIVE)
        assert await refusal(auth.UpdateApiToken(off, metadata=eve)) == not_found
        delete = pb.DeleteApiTokenRequest(id=token_id)
        assert await refusal(auth.DeleteApiToken(delete, metadata=eve)) == not_found
    assert (await bearer(auth, created.token)).user_id == "ann"  # untouched


async def test_a_valid_token_stands_for_its_owner_at_its_scope(
    auth: Stub, database_url: str
) -> None:
    await add_person(database_url, "pat-id", Role.MANAGER, username="pat")
    created = await auth.CreateApiToken(
        pb.CreateApiTokenRequest(scope=pb.TOKEN_SCOPE_POWER_USER), metadata=as_person("pat-id")
    )
    reply = await auth.AuthenticateBearer(
        pb.AuthenticateBearerRequest(token=created.token), metadata=as_gateway()
    )
    p = reply.principal
    assert (p.user_id, p.username, p.token_id) == ("pat-id", "pat", created.api_token.id)
    assert (p.scope_kind, p.scope_level) == (pb.SCOPE_KIND_TOKEN, pb.TOKEN_SCOPE_POWER_USER)
    assert p.role == pb.ROLE_UNSPECIFIED
    assert not reply.HasField("expires_at")  # API tokens do not expire


async def test_unknown_tampered_and_short_api_tokens_are_invalid(
    auth: Stub, database_url: str
) -> None:
    await add_person(database_url, "ann", Role.USER)
    token = await mint(auth, "ann")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for presented in ("", "bodhiapp_", token[:17], tampered, "bodhiapp_" + "x" * 43, "b" * 9000):
        assert await bearer_refusal(auth, presented) == INVALID, presented[:20]


async def test_a_garbage_bearer_is_unauthenticated_even_without_a_provider(auth: Stub) -> None:
    assert await bearer_refusal(auth, "garbage.not.a-token") == INVALID


async def test_a_token_follows_its_owners_current_role(auth: Stub, database_url: str) -> None:
    await add_person(database_url, "root", Role.ADMIN)
    await add_person(database_url, "ada", Role.ADMIN)
    token = await mint(auth, "ada", pb.TOKEN_SCOPE_ADMIN)
    assert (await bearer(auth, token)).scope_level == pb.TOKEN_SCOPE_ADMIN
    demote = pb.SetUserRoleRequest(user_id="ada", role=pb.ROLE_USER)
    await auth.SetUserRole(demote, metadata=as_person("root", "resource_admin"))
    assert (await bearer(auth, token)).scope_level == pb.TOKEN_SCOPE_USER
    remove = pb.RemoveUserRequest(user_id="ada")
    await auth.RemoveUser(remove, metadata=as_person("root", "resource_admin"))
    no_access = (grpc.StatusCode.UNAUTHENTICATED, "token_owner_no_access")
    assert await bearer_refusal(auth, token) == no_access


async def test_last_used_at_is_recorded_off_the_request_path(database_url: str) -> None:
    async with serving_auth(database_url) as auth:
        await add_person(database_url, "ann", Role.USER)
        token = await mint(auth, "ann")
        before = datetime.now(UTC)
        await bearer(auth, token)
    # Stopping the service flushes the usage recorder.
    (used,) = await sql(database_url, "SELECT last_used_at FROM api_tokens")
    assert used[0] is not None
    assert before <= used[0] <= datetime.now(UTC)
    async with serving_auth(database_url) as auth:
        listed = await auth.ListApiTokens(pb.ListApiTokensRequest(), metadata=as_person("ann"))
    assert listed.api_tokens[0].last_used_at.ToDatetime(UTC) == used[0]


async def test_the_database_holds_only_a_prefix_and_a_sha256_digest(
    auth: Stub, database_url: str
) -> None:
    await add_person(database_url, "ann", Role.USER)
    token = await mint(auth, "ann", name="backup-check")
    dump = await dump_database(database_url)
    assert token[17:] not in dump  # nor, then, the whole token
    assert token[:17] in dump
    ((stored,),) = await sql(database_url, "SELECT token_hash FROM api_tokens")
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert stored == hashlib.sha256(token.encode()).hexdigest()


async def test_token_calls_without_a_principal_are_unauthenticated(auth: Stub) -> None:
    gateway, no_principal = as_gateway(), (grpc.StatusCode.UNAUTHENTICATED, "no_principal")
    calls = [
        auth.CreateApiToken(pb.CreateApiTokenRequest(scope=pb.TOKEN_SCOPE_USER), metadata=gateway),
        auth.ListApiTokens(pb.ListApiTokensRequest(), metadata=gateway),
        auth.UpdateApiToken(pb.UpdateApiTokenRequest(id="x", name="y"), metadata=gateway),
        auth.DeleteApiToken(pb.DeleteApiTokenRequest(id="x"), metadata=gateway),
    ]
    for call in calls:
        assert await refusal(call) == no_principal


async def test_malformed_token_requests_are_invalid_arguments(
    auth: Stub, database_url: str
) -> None:
    await add_person(database_url, "ann", Role.USER)
    ann, bad = as_person("ann"), grpc.StatusCode.INVALID_ARGUMENT
    no_scope = pb.CreateApiTokenRequest(name="x")
    assert await refusal(auth.CreateApiToken(no_scope, metadata=ann)) == (bad, "invalid_role")
    too_long = pb.CreateApiTokenRequest(name="n" * 101, scope=pb.TOKEN_SCOPE_USER)
    assert await refusal(auth.CreateApiToken(too_long, metadata=ann)) == (bad, "invalid_token_name")
    fine = pb.CreateApiTokenRequest(scope=pb.TOKEN_SCOPE_USER)
    token_id = (await auth.CreateApiToken(fine, metadata=ann)).api_token.id
    no_status = pb.UpdateApiTokenRequest(id=token_id, status=pb.API_TOKEN_STATUS_UNSPECIFIED)
    assert await refusal(auth.UpdateApiToken(no_status, metadata=ann)) == (bad, "invalid_status")
    control = pb.UpdateApiTokenRequest(id=token_id, name="line\nbreak")
    assert await refusal(auth.UpdateApiToken(control, metadata=ann)) == (bad, "invalid_token_name")
