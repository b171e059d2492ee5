"""People and their roles: access requests, approvals, role changes, removal, and third-party
apps granted access. Every rule that compares roles reads the actor's CURRENT role from the
database rather than trusting what the caller asserts."""

from __future__ import annotations

from datetime import UTC, datetime

from auth_svc.access_store import AccessStore
from auth_svc.domain import AccessRequest, AppStatus, RequestStatus, Role, User
from auth_svc.store import AuthStore
from bodhi_common.clock import Clock
from bodhi_common.errors import FailedPrecondition, InvalidArgument, PermissionDenied


class Identity:
    """The rules of who may hold which role."""

    def __init__(self, store: AuthStore, requests: AccessStore, clock: Clock) -> None:
        self._store = store
        self._requests = requests
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def user(self, user_id: str) -> User:
        """A known person with their current role."""
        return await self._store.user(user_id)

    async def request_access(self, user_id: str) -> AccessRequest:
        """A person without a role asks for one."""
        user = await self._store.user(user_id)
        if user.role is not None:
            raise FailedPrecondition("you already have access", code="already_has_access")
        return await self._requests.create(user.user_id, user.username, self._now())

    async def access_status(self, user_id: str) -> AccessRequest:
        """The person's latest request, pending or decided."""
        return await self._requests.latest(user_id)

    async def requests(
        self, status: RequestStatus | None, limit: int, offset: int
    ) -> tuple[list[AccessRequest], int]:
        """A page of requests."""
        return await self._requests.list(status, limit, offset)

    async def approve(self, reviewer_id: str, request_id: int, role: Role) -> AccessRequest:
        """Grant `role` (at most the reviewer's own) and close the request."""
        reviewer = await self._reviewer(reviewer_id, Role.MANAGER)
        _at_most_own(reviewer, role)
        return await self._requests.decide(
            request_id, RequestStatus.APPROVED, reviewer.username, role, self._now()
        )

    async def reject(self, reviewer_id: str, request_id: int) -> AccessRequest:
        """Close the request without a role."""
        reviewer = await self._reviewer(reviewer_id, Role.MANAGER)
        return await self._requests.decide(
            request_id, RequestStatus.REJECTED, reviewer.username, None, self._now()
        )

    async def users(self, limit: int, offset: int) -> tuple[list[User], int]:
        """A page of people."""
        return await self._store.users(limit, offset)

    async def set_role(self, actor_id: str, user_id: str, role: Role) -> User:
        """Change a person's role: never above the actor's own, never over someone above the
        actor, and never demoting the last admin."""
        actor = await self._reviewer(actor_id, Role.MANAGER)
        target = await self._store.user(user_id)
        _at_most_own(actor, role)
        if target.role is not None:
            _at_most_own(actor, target.role)
        return await self._store.set_role(user_id, role, self._now())

    async def remove(self, actor_id: str, user_id: str) -> User:
        """Take away a person's access (admins only; the last admin stays)."""
        await self._reviewer(actor_id, Role.ADMIN)
        return await self._store.set_role(user_id, None, self._now())

    async def grant_app(self, client_id: str) -> str:
        """Allow a third-party client's user tokens; returns the scope the client asks for."""
        if not client_id or len(client_id) > 200 or not client_id.isprintable():
            raise InvalidArgument("app_client_id is required", code="invalid_app_client_id")
        app = await self._store.app()
        if app is None or app.status == AppStatus.SETUP or app.client_id is None:
            raise FailedPrecondition("this server is not set up yet", code="app_not_setup")
        await self._store.grant_app(client_id, self._now())
        return f"scope_resource_{app.client_id}"

    async def _reviewer(self, actor_id: str, least: Role) -> User:
        actor = await self._store.user(actor_id)
        if actor.role is None or actor.role < least:
            raise PermissionDenied("your role does not allow this", code="insufficient_role")
        return actor


def _at_most_own(actor: User, role: Role) -> None:
    assert actor.role is not None
    if role > actor.role:
        raise PermissionDenied(
            f"you cannot assign {role.wire} above your own role", code="role_above_own"
        )
