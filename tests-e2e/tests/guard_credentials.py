"""The pieces of the route-guard property test (test_route_guards.py):

- the ORACLE: reference §6.4–§6.6 written down again, independently of gateway/guards.py, as a
  function from (route group, credential) to the decision we expect (401 / 403 / pass);
- the ROUTE TABLE: every operation the running gateway publishes in its OpenAPI document (plus
  the few server-rendered pages it leaves out of it), each classified by the oracle and given a
  target and body that pass the guard but cannot damage the shared stack;
- the CREDENTIALS: real sessions, API tokens and third-party app tokens of people with each role,
  made once per module through the gateway and the dev OIDC provider."""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient


class Level(enum.IntEnum):
    """Reference §6.5: one total order shared by roles, API-token scopes and user scopes."""

    USER = 1
    POWER_USER = 2
    MANAGER = 3
    ADMIN = 4

    @property
    def suffix(self) -> str:
        return self.name.lower()


# --- the oracle (reference §6.4 / §6.6) ------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """A route group of §6.6, or one of the groups outside it."""

    name: str
    level: Level | None = None  # required_role (and the token/user scope when tokens are allowed)
    tokens: bool = False  # required_token_scope / required_user_scope are set (not session-only)
    public: bool = False  # no guard at all (public or optional authentication, §1.1/§1.2)
    any_session: bool = False  # a session with or without a role (§1.2: request-access/status)


USER_APIS = Group("user_apis", Level.USER, tokens=True)
POWER_USER_APIS = Group("power_user_apis", Level.POWER_USER, tokens=True)
POWER_USER_SESSION_APIS = Group("power_user_session_apis", Level.POWER_USER)
ADMIN_SESSION_APIS = Group("admin_session_apis", Level.ADMIN)
MANAGER_SESSION_APIS = Group("manager_session_apis", Level.MANAGER)
OPTIONAL = Group("public_or_optional", public=True)
SESSION_ANY_ROLE = Group("session_any_role", any_session=True)

ANY = "*"
# (methods, path pattern, group), first match wins. `{x}` is one path segment, a trailing `/**`
# anything below. Written from §1.1–§1.9 and the §6.6 table, NOT from the gateway's code.
TABLE: list[tuple[str, str, Group]] = [
    # §1.1 system / setup: public
    ("GET", "/ping", OPTIONAL),
    ("GET", "/health", OPTIONAL),
    ("GET", "/ready", OPTIONAL),
    ("GET", "/bodhi/v1/info", OPTIONAL),
    ("POST", "/bodhi/v1/setup", OPTIONAL),
    ("POST", "/bodhi/v1/logout", OPTIONAL),
    # §1.2 auth / user: optional authentication
    ("GET", "/bodhi/v1/user", OPTIONAL),
    ("POST", "/bodhi/v1/auth/initiate", OPTIONAL),
    ("POST", "/bodhi/v1/auth/callback", OPTIONAL),
    ("POST", "/bodhi/v1/apps/request-access", OPTIONAL),
    ("POST", "/bodhi/v1/user/request-access", SESSION_ANY_ROLE),
    ("GET", "/bodhi/v1/user/request-status", SESSION_ANY_ROLE),
    # our server-rendered pages and docs (issue 4: "a browser works without BodhiApp's UI")
    ("GET", "/ui", OPTIONAL),
    ("POST", "/ui/login", OPTIONAL),
    ("GET", "/ui/auth/callback", OPTIONAL),
    ("POST", "/ui/logout", OPTIONAL),
    ("GET", "/swagger-ui", OPTIONAL),
    # §6.6 user_apis
    (ANY, "/v1/models", USER_APIS),
    (ANY, "/v1/models/{id}", USER_APIS),
    (ANY, "/v1/chat/completions", USER_APIS),
    (ANY, "/v1/embeddings", USER_APIS),
    (ANY, "/api/tags", USER_APIS),
    (ANY, "/api/show", USER_APIS),
    (ANY, "/api/chat", USER_APIS),
    ("GET", "/bodhi/v1/models", USER_APIS),
    ("GET", "/bodhi/v1/models/{id}", USER_APIS),
    ("GET", "/bodhi/v1/modelfiles", USER_APIS),
    # §6.6 power_user_apis
    ("POST", "/bodhi/v1/models", POWER_USER_APIS),
    ("PUT", "/bodhi/v1/models/{id}", POWER_USER_APIS),
    (ANY, "/bodhi/v1/modelfiles/pull", POWER_USER_APIS),
    (ANY, "/bodhi/v1/modelfiles/pull/**", POWER_USER_APIS),
    (ANY, "/bodhi/v1/api-models", POWER_USER_APIS),
    (ANY, "/bodhi/v1/api-models/**", POWER_USER_APIS),
    # §6.6 power_user_session_apis (DELETE is ours: the reference routes no token deletion, §1.10)
    ("GET,POST", "/bodhi/v1/tokens", POWER_USER_SESSION_APIS),
    ("PUT,DELETE", "/bodhi/v1/tokens/{token_id}", POWER_USER_SESSION_APIS),
    # §6.6 admin_session_apis
    ("GET", "/bodhi/v1/settings", ADMIN_SESSION_APIS),
    ("PUT,DELETE", "/bodhi/v1/settings/{key}", ADMIN_SESSION_APIS),
    # §6.6 manager_session_apis
    (ANY, "/bodhi/v1/access-requests", MANAGER_SESSION_APIS),
    (ANY, "/bodhi/v1/access-requests/**", MANAGER_SESSION_APIS),
    ("GET", "/bodhi/v1/users", MANAGER_SESSION_APIS),
    ("PUT", "/bodhi/v1/users/{user_id}/role", MANAGER_SESSION_APIS),
    ("DELETE", "/bodhi/v1/users/{user_id}", MANAGER_SESSION_APIS),
]


def _pattern(path: str) -> re.Pattern[str]:
    regex = re.escape(path).replace(re.escape("/**"), "/.+")
    regex = re.sub(r"\\\{[^/]*?\\\}", "[^/]+", regex)
    return re.compile(f"^{regex}$")


_COMPILED = [(methods, _pattern(path), group) for methods, path, group in TABLE]


def classify(method: str, template: str) -> Group | None:
    """The oracle's group of a route (template from the OpenAPI paths), or None (unknown)."""
    for methods, pattern, group in _COMPILED:
        if (methods == ANY or method in methods.split(",")) and pattern.match(template):
            return group
    return None


Kind = Literal["anonymous", "session", "api_token", "app_token", "rejected_bearer"]


@dataclass(frozen=True)
class Expect:
    """A decision: `status` 401/403, or None for "passes the guard"; `codes`: the error codes
    that may carry it."""

    status: int | None
    codes: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return "pass" if self.status is None else f"{self.status} {sorted(self.codes)}"


PASS = Expect(None)
# Bad bearer tokens (§6.2: the bearer wins, and any validation error is returned).
BAD_TOKEN_CODES = frozenset(
    {"token_invalid", "access_token_invalid", "token_inactive", "token_owner_no_access",
     "app_not_granted", "scope_empty", "user_unknown", "user_no_access"}
)  # fmt: skip
# After the guard, a handler may still refuse (rules on the target, not the route group):
HANDLER_CODES = {
    (403, "role_above_own"),  # assigning a role above your own
    (403, "insufficient_role"),  # removing a user is for admins (issue 4) though the group is M
    (403, "privilege_escalation"),  # a token scope above your role
}


def decide(group: Group, kind: Kind, level: Level | None) -> Expect:
    """What §6 says a caller of `kind` at `level` (its role, token scope or effective user
    scope; None: none) gets from a route of `group`."""
    if group.public:
        return PASS
    if kind == "rejected_bearer":  # §6.2: the bearer header wins; its error is returned
        return Expect(401, BAD_TOKEN_CODES)
    if kind == "anonymous":  # §6.2: neither a bearer header nor a session
        codes = {"invalid_access"} | ({"session_required"} if group.any_session else set())
        return Expect(401, frozenset(codes))
    if group.any_session:  # identity of a person, through their session only
        return PASS if kind == "session" else Expect(401, frozenset({"session_required"}))
    if kind != "session" and not group.tokens:  # §6.4: required_*_scope is None
        return Expect(401, frozenset({"missing_auth"}))
    if level is None:  # §6.4: no role header and no scope header
        return Expect(401, frozenset({"missing_auth"}))
    assert group.level is not None
    return PASS if level >= group.level else Expect(403, frozenset({"forbidden"}))


# --- the route table ---------------------------------------------------------------------------

PAGES = [("GET", "/ui"), ("POST", "/ui/login"), ("GET", "/ui/auth/callback"),
         ("POST", "/ui/logout"), ("GET", "/swagger-ui")]  # fmt: skip
ENDS_SESSION = {("POST", "/bodhi/v1/logout"), ("POST", "/ui/logout")}
NO_SUCH_REQUEST = 999_999_999
NO_SUCH_USER = "nobody-xyz"
# Bodies that pass validation where we know the route; {} (a validation error after the guard)
# for routes this test does not know, so a new route can never change anything.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/bodhi/v1/tokens"): {"name": "guard-probe", "scope": "scope_token_user"},
    ("PUT", "/bodhi/v1/tokens/{token_id}"): {"name": "guard-probe", "status": "active"},
    ("POST", "/bodhi/v1/access-requests/{request_id}/approve"): {"role": "resource_user"},
    ("PUT", "/bodhi/v1/users/{user_id}/role"): {"role": "resource_user"},
    ("POST", "/bodhi/v1/apps/request-access"): {"app_client_id": "guard-probe-client"},
    ("POST", "/bodhi/v1/setup"): {"name": "Route guard probe server"},
}


@dataclass(frozen=True, repr=False)
class Route:
    method: str
    template: str
    group: Group

    @property
    def ends_session(self) -> bool:
        return (self.method, self.template) in ENDS_SESSION

    def target(self) -> str:
        """The template with harmless values: ids that do not exist."""

        def fill(match: re.Match[str]) -> str:
            name = match.group(1).split(":")[0]
            if name == "request_id":
                return str(NO_SUCH_REQUEST)
            if name == "user_id":
                return NO_SUCH_USER
            if name == "token_id":
                return str(uuid.uuid4())
            return "guard-probe-missing"

        return re.sub(r"\{([^}]+)\}", fill, self.template)

    def body(self) -> Any:
        if self.method not in ("POST", "PUT", "PATCH"):
            return None
        return BODIES.get((self.method, self.template), {})

    def __str__(self) -> str:
        return f"{self.method} {self.template} [{self.group.name}]"

    __repr__ = __str__


def route_table(gateway: str) -> tuple[list[Route], list[str]]:
    """Every operation of the running gateway's OpenAPI document plus its unlisted pages, with
    the oracle's group; and the operations the oracle cannot classify."""
    spec = httpx.get(f"{gateway}/api-docs/openapi.json", timeout=10).json()
    operations = [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    routes, unknown = [], []
    for method, template in [*operations, *PAGES]:
        group = classify(method, template)
        if group is None:
            unknown.append(f"{method} {template}")
        else:
            routes.append(Route(method, template, group))
    return routes, unknown


# --- credentials -------------------------------------------------------------------------------


@dataclass(repr=False)
class Credential:
    """One way of calling: `send` does the request with it."""

    name: str
    kind: Kind
    level: Level | None = None  # what §6.4 compares: role, token scope, min(user scope, role)
    client: BodhiClient | None = None  # a session: the person's browser (cookie jar)
    token: Any = None  # a str, or a callable giving a token that is still valid
    codes: frozenset[str] = frozenset()  # a rejected bearer token: the 401 codes it may get

    def bearer(self) -> str | None:
        if self.token is None:
            return None
        return self.token if isinstance(self.token, str) else self.token()

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__


def person(stack: Stack, name: str) -> BodhiClient:
    """A new browser, logged in as `name` (new on this stack)."""
    client = BodhiClient(stack.gateway_url)
    client.login_as(name)
    return client


def set_role(admin: BodhiClient, user_id: str, role: str) -> None:
    """PUT /bodhi/v1/users/{user_id}/role as `admin` (which ends that person's sessions)."""
    response = admin.http.put(
        f"/bodhi/v1/users/{user_id}/role", json={"role": role}, headers=origin(admin)
    )
    assert response.status_code == 200, response.text


def origin(client: BodhiClient) -> dict[str, str]:
    """The header a browser sends with our own pages' writes."""
    return {"Origin": client.base_url}


# --- third-party apps at the dev provider ------------------------------------------------------

THIRD_PARTY_REDIRECT = "http://127.0.0.1:9/callback"  # never contacted


@dataclass
class ThirdPartyApp:
    """An OAuth client registered at the dev provider (open registration), whose users' JWT
    access tokens the gateway accepts once the app asked for access."""

    issuer: str
    meta: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def register(cls, issuer: str) -> ThirdPartyApp:
        meta = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
        body = {
            "redirect_uris": [THIRD_PARTY_REDIRECT],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "client_name": "Route guard third-party app",
        }
        response = httpx.post(meta["registration_endpoint"], json=body, timeout=10)
        assert response.status_code == 201, response.text
        return cls(issuer, meta, response.json())

    @property
    def client_id(self) -> str:
        return str(self.client["client_id"])

    def access_token(self, username: str, scope: str, http: httpx.Client) -> str:
        """Log `username` in headlessly (login_hint) asking for `scope`; the JWT access token."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {
            "response_type": "code", "client_id": self.client_id,
            "redirect_uri": THIRD_PARTY_REDIRECT, "scope": scope, "login_hint": username,
            "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
        }  # fmt: skip
        url = f"{self.meta['authorization_endpoint']}?{urlencode(query)}"
        code = None
        for _ in range(10):
            response = http.get(url)
            assert response.status_code in (302, 303), response.text[:300]
            url = urljoin(url, response.headers["location"])
            if url.startswith(THIRD_PARTY_REDIRECT):
                code = parse_qs(urlsplit(url).query)["code"][0]
                break
        assert code is not None, "the provider never redirected back"
        response = httpx.post(
            self.meta["token_endpoint"],
            data={"grant_type": "authorization_code", "code": code,
                  "redirect_uri": THIRD_PARTY_REDIRECT, "code_verifier": verifier},
            auth=(self.client_id, self.client["client_secret"]),
            timeout=10,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


def claims(jwt: str) -> dict[str, Any]:
    """The payload of a JWT (no verification: only to read `exp`, `scope`, `azp`)."""
    payload = jwt.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


class FreshToken:
    """A user's access token for a third-party app, renewed when it has under `margin` seconds
    left (the stack's provider issues them for 10 s)."""

    def __init__(self, app: ThirdPartyApp, username: str, scope: str, margin: float = 4.0):
        self._app = app
        self._username = username
        self._scope = scope
        self._margin = margin
        self._http = httpx.Client(timeout=10)  # the user's provider session (cookie jar)
        self._token = ""
        self._expires = 0.0

    def __call__(self) -> str:
        if self._expires - time.time() < self._margin:
            self._token = self._app.access_token(self._username, self._scope, self._http)
            self._expires = float(claims(self._token)["exp"])
        return self._token

    def close(self) -> None:
        self._http.close()


def unique(prefix: str) -> str:
    """A login name nobody else on the shared stack uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
