"""A small client of intent-named helpers, so each e2e test reads as a user journey."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

T = TypeVar("T")


class BodhiClient:
    """What a user (or a script) does against the gateway, one helper per intent. Each client
    has its own cookie jar: one client is one browser."""

    def __init__(self, base_url: str, *, canaries: set[str] | None = None, **options: Any) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10, **options)
        # Secrets this client saw (session ids, API tokens): no log may ever contain them.
        self.canaries = canaries if canaries is not None else set()

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> BodhiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def app_info(self) -> dict[str, Any]:
        """GET /bodhi/v1/info (must succeed)."""
        info: dict[str, Any] = _ok(self.http.get("/bodhi/v1/info"))
        return info

    def readiness(self) -> httpx.Response:
        """GET /ready, whatever it answers."""
        return self.http.get("/ready")

    def wait_until(self, ready: bool, timeout: float = 15.0) -> httpx.Response:
        """Poll /ready until it reports `ready` (200) or not (503); the last response."""
        return until(self.readiness, lambda r: (r.status_code == 200) == ready, timeout)

    def setup(self, name: str, description: str = "") -> httpx.Response:
        """POST /bodhi/v1/setup."""
        return self.http.post("/bodhi/v1/setup", json={"name": name, "description": description})

    def login_as(self, username: str) -> dict[str, Any]:
        """Log in through the provider as `username` (the dev provider logs in whoever its
        login_hint names), like a browser following redirects; returns /bodhi/v1/user."""
        started = self.http.post("/bodhi/v1/auth/initiate")
        assert started.status_code == 201, started.text
        callback = self.follow_provider(started.json()["location"], username)
        finished = self.http.get(callback)
        assert finished.status_code == 200, finished.text
        self.canaries.add(self.http.cookies["bodhiapp_session_id"])
        return self.whoami()

    def follow_provider(self, authorize_url: str, username: str) -> str:
        """Walk the provider's redirects (its own cookie jar); the callback URL it sends back."""
        url = authorize_url + "&" + urlencode({"login_hint": username})
        gateway = urlsplit(self.base_url).netloc
        with httpx.Client(timeout=10) as provider:
            for _ in range(10):
                response = provider.get(url)
                assert response.status_code in (302, 303), response.text
                url = urljoin(url, response.headers["location"])
                if urlsplit(url).netloc == gateway:
                    return url
        raise AssertionError("the provider never redirected back")

    def whoami(self) -> dict[str, Any]:
        """GET /bodhi/v1/user."""
        me: dict[str, Any] = _ok(self.http.get("/bodhi/v1/user"))
        return me

    def request_access(self) -> httpx.Response:
        """POST /bodhi/v1/user/request-access."""
        return self.http.post("/bodhi/v1/user/request-access")

    def pending_requests(self) -> list[dict[str, Any]]:
        """GET /bodhi/v1/access-requests/pending."""
        requests: list[dict[str, Any]] = _ok(self.http.get("/bodhi/v1/access-requests/pending"))[
            "requests"
        ]
        return requests

    def approve(self, request_id: int, role: str) -> httpx.Response:
        """Approve an access request with a role."""
        return self.http.post(
            f"/bodhi/v1/access-requests/{request_id}/approve", json={"role": role}
        )

    def create_token(self, scope: str, name: str = "") -> str:
        """A new API token (plaintext)."""
        body = _ok(self.http.post("/bodhi/v1/tokens", json={"name": name, "scope": scope}), 201)
        token: str = body["token"]
        self.canaries.add(token)
        return token

    def tokens(self) -> list[dict[str, Any]]:
        """The caller's API tokens."""
        data: list[dict[str, Any]] = _ok(self.http.get("/bodhi/v1/tokens"))["data"]
        return data

    def set_token_status(self, token_id: str, status: str) -> httpx.Response:
        """Activate or deactivate an API token."""
        return self.http.put(f"/bodhi/v1/tokens/{token_id}", json={"status": status})

    def with_bearer(self, token: str) -> BodhiClient:
        """A second client that calls with `Authorization: Bearer <token>` and no cookies."""
        return BodhiClient(self.base_url, headers={"Authorization": f"Bearer {token}"})

    def logout(self) -> httpx.Response:
        """POST /bodhi/v1/logout."""
        return self.http.post("/bodhi/v1/logout")


def until(action: Callable[[], T], done: Callable[[T], bool], timeout: float = 10.0) -> T:
    """`action`'s result once `done` holds of it, or its last result after `timeout` seconds (a
    no-hang bound for what recovers in the background, such as a restarted service or a
    channel's reconnect backoff; the caller asserts on what it gets)."""
    deadline = time.monotonic() + timeout
    while True:
        result = action()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def power_user(
    admin: BodhiClient, browser: Callable[[], BodhiClient], username: str
) -> BodhiClient:
    """A person (a new client of `browser`) logged in with role power_user, which the admin
    gave them."""
    person = browser()
    user_id = person.login_as(username)["user_id"]
    response = admin.http.put(
        f"/bodhi/v1/users/{user_id}/role", json={"role": "resource_power_user"}
    )
    assert response.status_code == 200, response.text
    assert person.login_as(username)["role"] == "resource_power_user"
    return person


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()
