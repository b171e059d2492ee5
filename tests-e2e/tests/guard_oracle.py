"""The ORACLE of the route-guard property test (test_route_guards.py): reference §6.4–§6.6
written down again, independently of gateway/guards.py, as a function from (route group,
credential) to the decision we expect (401 / 403 / pass)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Literal


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
    ("GET", "/metrics", OPTIONAL),  # Prometheus text: counts by route template, no secrets
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
    # ours (issue 5): reading a cached file's metadata and the pull catalog is reading models
    ("GET", "/bodhi/v1/modelfiles/metadata", USER_APIS),
    ("GET", "/bodhi/v1/modelfiles/catalog", USER_APIS),
    # §6.6 power_user_apis
    ("POST", "/bodhi/v1/models", POWER_USER_APIS),
    ("PUT", "/bodhi/v1/models/{id}", POWER_USER_APIS),
    ("DELETE", "/bodhi/v1/models/{id}", POWER_USER_APIS),  # ours (issue 5): as PUT
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
    # ours (issue 5): the Hub token is a server setting that is a secret, as the settings
    ("GET,PUT,DELETE", "/bodhi/v1/hub-token", ADMIN_SESSION_APIS),
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
