"""The ROUTE TABLE of the route-guard property test (test_route_guards.py): every operation the
running gateway publishes in its OpenAPI document (plus the few server-rendered pages it leaves
out of it), each classified by the oracle (guard_oracle) and given a target and body that pass
the guard but cannot damage the shared stack."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from guard_oracle import Group, classify

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
