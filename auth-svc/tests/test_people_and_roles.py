"""People and roles through AuthService: access requests and their review, role changes within
the actor's own role, the last admin, removal, third-party apps, and setup without a provider.
People are recorded directly in the database, as a login would have done."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from auth_svc.domain import Role
from bodhi.auth.v1 import auth_pb2 as pb
from bodhi.auth.v1.auth_pb2_grpc import AuthServiceStub as Stub
from bodhi.common.v1 import common_pb2
from bodhi_common.internal_auth import Metadata

from support import (
    CLIENT_ID,
    add_app,
    add_person,
    as_gateway,
    as_person,
    refusal,
    serving_auth,
    sql,
)

S = grpc.StatusCode
ABOVE_OWN = (S.PERMISSION_DENIED, "role_above_own")
INSUFFICIENT = (S.PERMISSION_DENIED, "insufficient_role")
NOT_PENDING = (S.FAILED_PRECONDITION, "access_request_not_pending")
REQUEST_NOT_FOUND = (S.NOT_FOUND, "access_request_not_found")
LAST_ADMIN = (S.FAILED_PRECONDITION, "last_admin")
NO_PROVIDER = (S.FAILED_PRECONDITION, "no_provider")
NOT_SET_UP = (S.FAILED_PRECONDITION, "app_not_setup")
STAFF = {"root": "resource_admin", "mia": "resource_manager", "pip": "resource_power_user"}


def by(user_id: str, role: str | None = None) -> Metadata:
    """The gateway calling for someone (staff claim their role from the fixture)."""
    return as_person(user_id, role or STAFF.get(user_id))


@pytest.fixture
async def staff(auth: Stub, database_url: str) -> Stub:
    """A ready installation with an admin (root), a manager (mia), a power user (pip) and a
    newcomer without a role (nia)."""
    await add_app(database_url)
    for user_id, role in (("root", Role.ADMIN), ("mia", Role.MANAGER), ("pip", Role.POWER_USER)):
        await add_person(database_url, user_id, role)
    await add_person(database_url, "nia")
    return auth


async def request_access(auth: Stub, user_id: str) -> pb.AccessRequest:
    reply = await auth.RequestAccess(pb.RequestAccessRequest(), metadata=by(user_id))
    return reply.access_request


async def latest_request(auth: Stub, user_id: str) -> pb.AccessRequest:
    request = pb.GetAccessRequestStatusRequest()
    return (await auth.GetAccessRequestStatus(request, metadata=by(user_id))).access_request


async def role_of(auth: Stub, user_id: str) -> int:
    reply = await auth.GetPrincipal(pb.GetPrincipalRequest(user_id=user_id), metadata=as_gateway())
    return reply.principal.role


def approve(request_id: int, role: int) -> pb.ApproveAccessRequestRequest:
    return pb.ApproveAccessRequestRequest(id=request_id, role=role)


def set_role(user_id: str, role: int) -> pb.SetUserRoleRequest:
    return pb.SetUserRoleRequest(user_id=user_id, role=role)


async def test_a_person_without_a_role_files_one_pending_request(staff: Stub) -> None:
    created = await request_access(staff, "nia")
    assert (created.user_id, created.status) == ("nia", pb.ACCESS_REQUEST_STATUS_PENDING)
    assert not created.HasField("reviewer")
    again = staff.RequestAccess(pb.RequestAccessRequest(), metadata=by("nia"))
    assert await refusal(again) == (S.ALREADY_EXISTS, "access_request_pending")
    has_role = staff.RequestAccess(pb.RequestAccessRequest(), metadata=by("pip"))
    assert await refusal(has_role) == (S.FAILED_PRECONDITION, "already_has_access")


async def test_fifty_concurrent_requests_make_exactly_one_pending_row(
    staff: Stub, database_url: str
) -> None:
    ask = pb.RequestAccessRequest()
    calls = [refusal(staff.RequestAccess(ask, metadata=by("nia"))) for _ in range(50)]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(isinstance(o, AssertionError) for o in outcomes) == 1  # "the call succeeded"
    refused = [o for o in outcomes if not isinstance(o, BaseException)]
    assert refused == [(S.ALREADY_EXISTS, "access_request_pending")] * 49
    rows = await sql(database_url, "SELECT status FROM access_requests WHERE user_id = 'nia'")
    assert [r["status"] for r in rows] == ["pending"]


async def test_the_latest_request_is_found_after_rejection_and_approval(staff: Stub) -> None:
    assert await refusal(latest_request(staff, "nia")) == REQUEST_NOT_FOUND
    first = await request_access(staff, "nia")
    reject = pb.RejectAccessRequestRequest(id=first.id)
    await staff.RejectAccessRequest(reject, metadata=by("mia"))
    latest = await latest_request(staff, "nia")
    assert (latest.id, latest.reviewer) == (first.id, "mia")
    assert latest.status == pb.ACCESS_REQUEST_STATUS_REJECTED
    second = await request_access(staff, "nia")
    await staff.ApproveAccessRequest(approve(second.id, pb.ROLE_USER), metadata=by("root"))
    latest = await latest_request(staff, "nia")
    assert (latest.id, latest.reviewer) == (second.id, "root")
    assert latest.status == pb.ACCESS_REQUEST_STATUS_APPROVED


async def test_pending_lists_oldest_first_and_all_lists_newest_first_in_pages(
    staff: Stub, database_url: str
) -> None:
    for name in ("a", "b", "c", "d"):
        await add_person(database_url, name)
        await request_access(staff, name)
    ids = {r["user_id"]: r["id"] for r in await sql(database_url, "SELECT * FROM access_requests")}
    await staff.ApproveAccessRequest(approve(ids["b"], pb.ROLE_USER), metadata=by("mia"))

    async def listed(status: int, page: int, size: int) -> pb.ListAccessRequestsResponse:
        paging = common_pb2.PageRequest(page=page, page_size=size)
        request = pb.ListAccessRequestsRequest(status=status, page=paging)
        return await staff.ListAccessRequests(request, metadata=by("mia"))

    pending = await listed(pb.ACCESS_REQUEST_STATUS_PENDING, 1, 10)
    assert [r.user_id for r in pending.access_requests] == ["a", "c", "d"]
    pages = [await listed(pb.ACCESS_REQUEST_STATUS_UNSPECIFIED, n, 3) for n in (1, 2)]
    assert [[r.user_id for r in p.access_requests] for p in pages] == [["d", "c", "b"], ["a"]]
    assert (pages[1].page_info.page, pages[1].page_info.total) == (2, 4)


async def test_approval_grants_at_most_the_reviewers_role_and_only_once(staff: Stub) -> None:
    req = await request_access(staff, "nia")
    call = staff.ApproveAccessRequest
    assert await refusal(call(approve(req.id, pb.ROLE_ADMIN), metadata=by("mia"))) == ABOVE_OWN
    assert await refusal(call(approve(req.id, pb.ROLE_USER), metadata=by("pip"))) == INSUFFICIENT
    unknown = approve(req.id + 9, pb.ROLE_USER)
    assert await refusal(call(unknown, metadata=by("root"))) == REQUEST_NOT_FOUND
    assert await role_of(staff, "nia") == pb.ROLE_UNSPECIFIED
    done = await call(approve(req.id, pb.ROLE_MANAGER), metadata=by("mia"))
    assert done.access_request.status == pb.ACCESS_REQUEST_STATUS_APPROVED
    assert await role_of(staff, "nia") == pb.ROLE_MANAGER
    assert await refusal(call(approve(req.id, pb.ROLE_USER), metadata=by("root"))) == NOT_PENDING
    assert await role_of(staff, "nia") == pb.ROLE_MANAGER


async def test_concurrent_approvals_grant_exactly_one_role(staff: Stub) -> None:
    req = await request_access(staff, "nia")
    roles = [pb.ROLE_USER, pb.ROLE_POWER_USER, pb.ROLE_MANAGER] * 4
    calls = [
        refusal(staff.ApproveAccessRequest(approve(req.id, r), metadata=by("root"))) for r in roles
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    won = [r for r, o in zip(roles, outcomes, strict=True) if isinstance(o, AssertionError)]
    assert len(won) == 1
    assert [o for o in outcomes if not isinstance(o, BaseException)] == [NOT_PENDING] * 11
    assert await role_of(staff, "nia") == won[0]


async def test_a_stale_request_cannot_let_a_manager_demote_the_last_admin(staff: Stub) -> None:
    req = await request_access(staff, "nia")
    await staff.SetUserRole(set_role("nia", pb.ROLE_ADMIN), metadata=by("root"))
    await staff.SetUserRole(set_role("root", pb.ROLE_USER), metadata=by("nia", "resource_admin"))
    # nia is now the only admin and her request is still pending; a manager approves it.
    call = staff.ApproveAccessRequest(approve(req.id, pb.ROLE_USER), metadata=by("mia"))
    assert await refusal(call) == (grpc.StatusCode.FAILED_PRECONDITION, "already_has_access")
    assert await role_of(staff, "nia") == pb.ROLE_ADMIN


async def test_rejection_needs_a_manager_and_a_known_pending_request(staff: Stub) -> None:
    req = await request_access(staff, "nia")
    reject = pb.RejectAccessRequestRequest(id=req.id)
    assert await refusal(staff.RejectAccessRequest(reject, metadata=by("pip"))) == INSUFFICIENT
    unknown = pb.RejectAccessRequestRequest(id=req.id + 100)
    refused = await refusal(staff.RejectAccessRequest(unknown, metadata=by("mia")))
    assert refused == REQUEST_NOT_FOUND
    await staff.RejectAccessRequest(reject, metadata=by("mia"))
    assert await refusal(staff.RejectAccessRequest(reject, metadata=by("mia"))) == NOT_PENDING
    assert await role_of(staff, "nia") == pb.ROLE_UNSPECIFIED


async def test_a_manager_cannot_grant_admin_nor_touch_an_admin(staff: Stub) -> None:
    grant = set_role("pip", pb.ROLE_ADMIN)
    assert await refusal(staff.SetUserRole(grant, metadata=by("mia"))) == ABOVE_OWN
    demote = set_role("root", pb.ROLE_USER)
    assert await refusal(staff.SetUserRole(demote, metadata=by("mia"))) == ABOVE_OWN
    promote = set_role("pip", pb.ROLE_MANAGER)
    assert await refusal(staff.SetUserRole(promote, metadata=by("pip"))) == INSUFFICIENT
    assert (await staff.SetUserRole(promote, metadata=by("mia"))).user.role == pb.ROLE_MANAGER
    assert await role_of(staff, "root") == pb.ROLE_ADMIN


async def test_the_last_admin_cannot_be_demoted_but_one_of_two_can(staff: Stub) -> None:
    demote_root = set_role("root", pb.ROLE_MANAGER)
    assert await refusal(staff.SetUserRole(demote_root, metadata=by("root"))) == LAST_ADMIN
    await staff.SetUserRole(set_role("mia", pb.ROLE_ADMIN), metadata=by("root"))
    await staff.SetUserRole(demote_root, metadata=by("mia", "resource_admin"))
    assert await role_of(staff, "root") == pb.ROLE_MANAGER
    # root's claim of admin is stale: the rule reads the role from the database.
    demote_mia = set_role("mia", pb.ROLE_USER)
    assert await refusal(staff.SetUserRole(demote_mia, metadata=by("root"))) == ABOVE_OWN


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(staff: Stub) -> None:
    await staff.SetUserRole(set_role("mia", pb.ROLE_ADMIN), metadata=by("root"))
    mia = by("mia", "resource_admin")
    outcomes = await asyncio.gather(
        refusal(staff.SetUserRole(set_role("mia", pb.ROLE_USER), metadata=by("root"))),
        refusal(staff.SetUserRole(set_role("root", pb.ROLE_USER), metadata=mia)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, AssertionError) for o in outcomes) == 1
    roles = {await role_of(staff, "root"), await role_of(staff, "mia")}
    assert roles == {pb.ROLE_ADMIN, pb.ROLE_USER}


async def test_only_admins_remove_people_and_never_the_last_admin(staff: Stub) -> None:
    remove_pip = pb.RemoveUserRequest(user_id="pip")
    assert await refusal(staff.RemoveUser(remove_pip, metadata=by("mia"))) == INSUFFICIENT
    remove_root = pb.RemoveUserRequest(user_id="root")
    assert await refusal(staff.RemoveUser(remove_root, metadata=by("root"))) == LAST_ADMIN
    await staff.RemoveUser(remove_pip, metadata=by("root"))
    assert await role_of(staff, "pip") == pb.ROLE_UNSPECIFIED
    assert await role_of(staff, "root") == pb.ROLE_ADMIN


async def test_users_are_listed_by_username_in_pages(staff: Stub, database_url: str) -> None:
    for user_id, username in (("u1", "zoe"), ("u2", "al"), ("u3", "kim")):
        await add_person(database_url, user_id, username=username)
    pages = []
    for n in (1, 2):
        page = common_pb2.PageRequest(page=n, page_size=4)
        pages.append(await staff.ListUsers(pb.ListUsersRequest(page=page), metadata=by("root")))
    by_name = ["al", "kim", "mia", "nia", "pip", "root", "zoe"]
    assert [u.username for p in pages for u in p.users] == by_name
    assert (pages[0].page_info.total, pages[0].client_id) == (7, CLIENT_ID)
    assert [u.role for u in pages[0].users] == [0, 0, pb.ROLE_MANAGER, 0]


async def test_people_calls_without_a_principal_are_unauthenticated(staff: Stub) -> None:
    gw = as_gateway()
    calls = [
        staff.RequestAccess(pb.RequestAccessRequest(), metadata=gw),
        staff.GetAccessRequestStatus(pb.GetAccessRequestStatusRequest(), metadata=gw),
        staff.ApproveAccessRequest(approve(1, pb.ROLE_USER), metadata=gw),
        staff.RejectAccessRequest(pb.RejectAccessRequestRequest(id=1), metadata=gw),
        staff.SetUserRole(set_role("pip", pb.ROLE_USER), metadata=gw),
        staff.RemoveUser(pb.RemoveUserRequest(user_id="pip"), metadata=gw),
    ]
    for call in calls:
        assert await refusal(call) == (S.UNAUTHENTICATED, "no_principal")


async def test_before_setup_login_and_app_grants_fail_and_setup_needs_a_provider(
    auth: Stub,
) -> None:
    setup = pb.SetupAppRequest(name="My Bodhi server", redirect_uris=["http://x/cb"])
    assert await refusal(auth.SetupApp(setup, metadata=as_gateway())) == NO_PROVIDER
    info = await auth.GetAppInfo(pb.GetAppInfoRequest(), metadata=as_gateway())
    assert info.status == pb.APP_STATUS_SETUP
    begin = pb.BeginLoginRequest(redirect_uri="http://x/cb", state="s", nonce="n")
    assert await refusal(auth.BeginLogin(begin, metadata=as_gateway())) == NOT_SET_UP
    ask = pb.RequestAppAccessRequest(app_client_id="third-party-app")
    assert await refusal(auth.RequestAppAccess(ask, metadata=as_gateway())) == NOT_SET_UP


async def test_a_preprovisioned_client_sets_up_once_and_apps_get_its_resource_scope(
    database_url: str,
) -> None:
    client = {"BODHI_OIDC_CLIENT_ID": "pre-made", "BODHI_OIDC_CLIENT_SECRET": "s3cret-value"}
    uri = "http://127.0.0.1:1135/ui/auth/callback"
    setup = pb.SetupAppRequest(name="My Bodhi server", redirect_uris=[uri])
    async with serving_auth(database_url, **client) as auth:
        first = await auth.SetupApp(setup, metadata=as_gateway())
        assert first.status == pb.APP_STATUS_RESOURCE_ADMIN
        again = await refusal(auth.SetupApp(setup, metadata=as_gateway()))
        assert again == (S.FAILED_PRECONDITION, "already_setup")
        info = await auth.GetAppInfo(pb.GetAppInfoRequest(), metadata=as_gateway())
        assert info.status == pb.APP_STATUS_RESOURCE_ADMIN
        begin = pb.BeginLoginRequest(redirect_uri=uri, state="s", nonce="n", code_challenge="c")
        assert await refusal(auth.BeginLogin(begin, metadata=as_gateway())) == NO_PROVIDER
        ask = pb.RequestAppAccessRequest(app_client_id="third-party-app")
        for _ in range(2):  # granting an app is idempotent
            reply = await auth.RequestAppAccess(ask, metadata=as_gateway())
            assert reply.scope == "scope_resource_pre-made"
    assert len(await sql(database_url, "SELECT * FROM app_clients")) == 1
    (app,) = await sql(database_url, "SELECT client_id, redirect_uris FROM app")
    assert (app["client_id"], app["redirect_uris"]) == ("pre-made", [uri])
