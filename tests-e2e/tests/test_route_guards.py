"""The 401/403 decision of every gateway route for every kind of caller (reference §6.4–§6.6,
issue 4): a property test over the whole route table × real credentials, checked against an
oracle written from the reference (guard_oracle.decide), plus the sharp edges spelled out.

The credentials are real and made once per module on the shared stack: people logged in through
the dev provider with no role and with each role, API tokens of each scope, third-party app
tokens (scope_user_*) and rejected bearer tokens. Requests use targets that pass a guard but
change nothing that matters: unknown ids (404), lists, a new API token.

Rejected bearer tokens count against the gateway's throttle (20 a minute per client address), so
they are drawn rarely and sent from a loopback address of their own (127.0.0.x), which keeps this
module's budget apart from other modules'; a 429 `too_many_invalid_tokens` is accepted as the
denial once this module has sent that many."""

from __future__ import annotations

import random
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from guard_credentials import (
    Credential,
    FreshToken,
    ThirdPartyApp,
    origin,
    person,
    set_role,
    unique,
)
from guard_oracle import HANDLER_CODES, Level, decide
from guard_routes import Route, route_table
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient

INVALID_TOKEN_LIMIT = 20  # BODHI_INVALID_BEARER_LIMIT's default
FORGED = {
    "X-User-Id": "user-0000000000000000",
    "X-Role": "resource_admin",
    "X-Roles": "admin",
    "X-BodhiApp-Role": "resource_admin",
    "X-BodhiApp-User-Id": "user-0000000000000000",
    "X-BodhiApp-Token": "forged",
    "X-BodhiApp-Scope": "scope_token_admin",
    "X-Forwarded-For": "10.1.2.3",
    "X-Scopes": "scope_token_admin scope_user_admin",
}


@dataclass(repr=False)
class World:
    """The stack's route table and the credentials, with the clients that send requests."""

    gateway: str
    routes: list[Route]
    credentials: list[Credential]
    anonymous: httpx.Client  # no cookies, for bearer tokens and no credentials
    rejecting: httpx.Client  # the same, from a loopback address of its own (throttle budget)
    rejected_sent: int = 0
    seen: Counter[str] = field(default_factory=Counter)

    def __repr__(self) -> str:
        return f"World({len(self.routes)} routes, {len(self.credentials)} credentials)"

    def credential(self, name: str) -> Credential:
        return next(c for c in self.credentials if c.name == name)

    def browser(self, name: str) -> httpx.Client:
        """The cookie jar of the session credential `name`."""
        client = self.credential(name).client
        assert client is not None
        return client.http

    def send(self, route: Route, credential: Credential, **headers: str) -> httpx.Response:
        """The request of `route` made with `credential` (a session write carries our Origin)."""
        headers = dict(headers)
        if credential.kind == "session":
            assert credential.client is not None
            http = credential.client.http
            headers.setdefault("Origin", self.gateway)
        else:
            http = self.rejecting if credential.kind == "rejected_bearer" else self.anonymous
            http.cookies.clear()
            token = credential.bearer()
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
        if credential.kind == "rejected_bearer":
            self.rejected_sent += 1
        body = route.body()
        return http.request(
            route.method,
            route.target(),
            headers=headers,
            **({"json": body} if body is not None else {}),
        )


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):  # the Ollama routes' shape: {"error": text, "code": code}
        return body.get("code")  # type: ignore[no-any-return]
    return error.get("code") if isinstance(error, dict) else None


def check(world: World, route: Route, credential: Credential) -> None:
    """Send, and compare with the oracle."""
    expect = decide(route.group, credential.kind, credential.level)
    response = world.send(route, credential)
    status, code = response.status_code, _code(response)
    where = f"{route} with {credential} (oracle: {expect}): {status} {response.text[:300]}"
    world.seen[f"{expect.status or 'pass'}"] += 1
    event(f"{route.group.name} × {credential.kind}: {expect}")
    if expect.status is None:
        assert status not in (401, 403) or (status, code) in HANDLER_CODES, where
        if status in (401, 403) or status >= 500:
            world.seen[f"pass, then {status} {code}"] += 1
        return
    if (
        credential.kind == "rejected_bearer"
        and status == 429
        and code == "too_many_invalid_tokens"
        and world.rejected_sent > INVALID_TOKEN_LIMIT
    ):
        return  # the throttle's denial, once this module used its budget
    assert status == expect.status, where
    assert code in expect.codes, where
    if credential.codes:  # the oracle knows a bad token is 401; the credential knows why
        assert code in credential.codes, where


# --- the credentials, once per module ----------------------------------------------------------


@pytest.fixture(scope="module")
def world(stack: Stack, admin: BodhiClient) -> Iterator[World]:
    started = time.monotonic()
    gateway = stack.gateway_url
    routes, unknown = route_table(gateway)
    assert not unknown, f"routes the oracle does not know (add them to TABLE): {unknown}"

    # People: one without a role, one per role (the admin sets it, then they log in again).
    names: dict[Level | None, str] = {None: unique("guard-norole")}
    names.update({level: unique(f"guard-{level.suffix}") for level in Level})
    people = {level: person(stack, name) for level, name in names.items()}
    ids = {level: people[level].whoami()["user_id"] for level in names}
    for level in Level:
        set_role(admin, ids[level], f"resource_{level.suffix}")
        assert people[level].whoami()["auth_status"] == "logged_out"  # role change ends sessions
        assert people[level].login_as(names[level])["role"] == f"resource_{level.suffix}"
    assert people[None].whoami()["role"] is None

    credentials = [Credential("no credentials", "anonymous")]
    credentials.append(Credential("session without a role", "session", None, people[None]))
    credentials += [
        Credential(f"session resource_{level.suffix}", "session", level, people[level])
        for level in Level
    ]

    # API tokens: each made by someone of at least that role (a power user for `user`).
    for level in Level:
        maker = people[max(level, Level.POWER_USER)]
        token = maker.create_token(f"scope_token_{level.suffix}", name="route guards")
        credentials.append(Credential(f"api token scope_token_{level.suffix}", "api_token",
                                      level, token=token))  # fmt: skip

    # Third-party app tokens: the app asks for access, our people log in to it at the provider.
    app = ThirdPartyApp.register(stack.oidc_issuer)
    granted = httpx.post(f"{gateway}/bodhi/v1/apps/request-access",
                         json={"app_client_id": app.client_id}, timeout=10)  # fmt: skip
    assert granted.status_code == 200, granted.text
    sources: list[FreshToken] = []

    def app_token(who: Level | None, scope: Level) -> FreshToken:
        sources.append(FreshToken(app, names[who], f"openid scope_user_{scope.suffix}"))
        return sources[-1]

    # (whose, scope) → acts at min(scope, their role)
    for who, scope in [
        (Level.POWER_USER, Level.USER),
        (Level.POWER_USER, Level.POWER_USER),
        (Level.USER, Level.MANAGER),
        (Level.ADMIN, Level.ADMIN),
    ]:
        effective = min(who, scope)
        credentials.append(Credential(
            f"app token scope_user_{scope.suffix} of a {who.suffix}", "app_token", effective,
            token=app_token(who, scope),
        ))  # fmt: skip

    # Rejected bearer tokens.
    stranger = ThirdPartyApp.register(stack.oidc_issuer)  # never asked for access
    credentials += [
        Credential("garbage bearer", "rejected_bearer", token="not-a-token",
                   codes=frozenset({"access_token_invalid"})),
        Credential("unknown api token", "rejected_bearer",
                   token="bodhiapp_" + secrets.token_urlsafe(32),
                   codes=frozenset({"token_invalid"})),
        Credential("app token of a person without a role", "rejected_bearer",
                   token=app_token(None, Level.USER), codes=frozenset({"user_no_access"})),
        Credential("app token of an app without access", "rejected_bearer",
                   token=FreshToken(stranger, names[Level.ADMIN], "openid scope_user_user"),
                   codes=frozenset({"app_not_granted"})),
    ]  # fmt: skip
    sources.append(credentials[-1].token)

    address = f"127.0.0.{random.randint(2, 254)}"  # noqa: S311 - not a secret
    world = World(
        gateway=gateway,
        routes=routes,
        credentials=credentials,
        anonymous=httpx.Client(base_url=gateway, timeout=10),
        rejecting=httpx.Client(base_url=gateway, timeout=10,
                               transport=httpx.HTTPTransport(local_address=address)),
    )  # fmt: skip

    # What /bodhi/v1/user says of each valid bearer: the level the oracle assumes.
    for credential in credentials:
        if credential.kind in ("api_token", "app_token"):
            me = world.anonymous.get(
                "/bodhi/v1/user", headers={"Authorization": f"Bearer {credential.bearer()}"}
            ).json()
            family = "scope_token_" if credential.kind == "api_token" else "scope_user_"
            assert credential.level is not None
            assert me["role"] == family + credential.level.suffix, (credential.name, me)
    print(f"\nroute guards: {len(routes)} routes × {len(credentials)} credentials,"
          f" made in {time.monotonic() - started:.1f} s")  # fmt: skip
    try:
        yield world
    finally:
        print(f"route guards: decisions checked {dict(world.seen)};"
              f" rejected bearer tokens sent: {world.rejected_sent}")  # fmt: skip
        # Leave the shared stack as we found it: no pending request, none of our people with a
        # role (which also stops their sessions and tokens).
        for request in admin.pending_requests():
            if request["username"] == names[None]:
                rejected = admin.http.post(f"/bodhi/v1/access-requests/{request['id']}/reject",
                                           headers=origin(admin))  # fmt: skip
                assert rejected.status_code == 200, rejected.text
        for level in Level:
            removed = admin.http.delete(f"/bodhi/v1/users/{ids[level]}", headers=origin(admin))
            assert removed.status_code == 200, removed.text
        for source in sources:
            source.close()
        for client in people.values():
            client.close()
        world.anonymous.close()
        world.rejecting.close()


# --- the property ------------------------------------------------------------------------------


@st.composite
def probes(draw: st.DrawFn, world: World) -> tuple[Route, Credential]:
    """A route and a credential; a rejected bearer token about one time in 32 (the draw avoids
    the integers' ends, which hypothesis favours)."""
    rejected = draw(st.integers(0, 31)) == 13
    pool = [c for c in world.credentials if (c.kind == "rejected_bearer") == rejected]
    credential = draw(st.sampled_from(pool))
    # Logging out with one of our sessions would end it: those pairs are left out.
    routes = [r for r in world.routes if not (r.ends_session and credential.kind == "session")]
    return draw(st.sampled_from(routes)), credential


@settings(
    max_examples=500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_every_route_decides_as_the_reference_says(world: World, data: st.DataObject) -> None:
    route, credential = data.draw(probes(world), label="probe")
    # The throttle's budget: past it, a rejected token would only meet the 429.
    assume(credential.kind != "rejected_bearer" or world.rejected_sent < INVALID_TOKEN_LIMIT)
    check(world, route, credential)


# --- the sharp edges ---------------------------------------------------------------------------


def _session_only(world: World) -> list[Route]:
    return [r for r in world.routes if r.group.level is not None and not r.group.tokens]


def test_a_bearer_token_never_opens_a_session_only_route(world: World) -> None:
    """Any API or app token, even of scope admin, on every session-only route: 401 missing_auth
    (§6.4: required_token_scope is None), also when a session cookie comes along (§6.2: the
    bearer header wins)."""
    bearers = [c for c in world.credentials if c.kind in ("api_token", "app_token")]
    assert {c.level for c in bearers} >= {Level.ADMIN}
    admin_session = world.browser("session resource_admin")
    routes = _session_only(world)
    assert routes
    for route in routes:
        for credential in bearers:
            response = world.send(route, credential)
            assert (response.status_code, _code(response)) == (401, "missing_auth"), (
                f"{route} with {credential}: {response.text}"
            )
        token = world.credential("api token scope_token_admin").bearer()
        body = route.body()
        response = admin_session.request(
            route.method, route.target(),
            headers={"Authorization": f"Bearer {token}", "Origin": world.gateway},
            **({"json": body} if body is not None else {}),
        )  # fmt: skip
        assert (response.status_code, _code(response)) == (401, "missing_auth"), route


def test_a_session_without_a_role_is_401_missing_auth(world: World) -> None:
    """§6.4's last branch: no role header and no scope header."""
    norole = world.credential("session without a role")
    routes = _session_only(world)
    assert {("GET", "/bodhi/v1/tokens"), ("POST", "/bodhi/v1/tokens")} <= {
        (r.method, r.template) for r in routes
    }
    for route in routes:
        response = world.send(route, norole)
        assert (response.status_code, _code(response)) == (401, "missing_auth"), route
    # ...while the routes for any session serve them
    response = world.browser("session without a role").get("/bodhi/v1/user/request-status")
    assert response.status_code not in (401, 403), response.text


def test_a_role_below_the_group_is_403_forbidden(world: World) -> None:
    """A power user is below manager_session_apis; a user below power_user_session_apis."""
    response = world.browser("session resource_power_user").get("/bodhi/v1/users")
    assert (response.status_code, _code(response)) == (403, "forbidden")
    response = world.browser("session resource_user").get("/bodhi/v1/tokens")
    assert (response.status_code, _code(response)) == (403, "forbidden")
    # ...and at the group's level they open
    assert world.browser("session resource_manager").get("/bodhi/v1/users").status_code == 200
    assert world.browser("session resource_power_user").get("/bodhi/v1/tokens").status_code == 200


def test_forged_identity_headers_change_nothing(world: World) -> None:
    """Reference G14: identity never comes from request headers."""
    anonymous = world.credential("no credentials")
    users = next(r for r in world.routes if (r.method, r.template) == ("GET", "/bodhi/v1/users"))
    response = world.send(users, anonymous, **FORGED)
    assert (response.status_code, _code(response)) == (401, "invalid_access")
    world.anonymous.cookies.clear()
    response = world.anonymous.get("/bodhi/v1/user", headers=FORGED)
    assert response.json() == {"auth_status": "logged_out"}
    # On real sessions, the headers neither add a role nor raise one.
    response = world.send(users, world.credential("session without a role"), **FORGED)
    assert (response.status_code, _code(response)) == (401, "missing_auth")
    response = world.send(users, world.credential("session resource_power_user"), **FORGED)
    assert (response.status_code, _code(response)) == (403, "forbidden")
    me = world.browser("session resource_power_user").get("/bodhi/v1/user", headers=FORGED)
    assert me.json()["role"] == "resource_power_user"
    # ...and on an API token, the scope stays the token's.
    token = world.credential("api token scope_token_user").bearer()
    me = world.anonymous.get(
        "/bodhi/v1/user", headers={**FORGED, "Authorization": f"Bearer {token}"}
    ).json()
    assert me == {"auth_status": "api_token", "role": "scope_token_user"}
