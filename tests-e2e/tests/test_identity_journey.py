"""The identity journey end to end against the real provider: setup → the first login is the
admin → a second person logs in with no role → asks for access → a manager approves → the role
applies at once → they make an API token → use it → deactivate it → 401."""

from __future__ import annotations

from collections.abc import Callable

from bodhi_e2e.client import BodhiClient


def test_from_setup_to_a_revoked_api_token(fresh_browser: Callable[[], BodhiClient]) -> None:
    browser = fresh_browser
    bodhi = browser()
    assert bodhi.app_info()["status"] == "setup"
    assert bodhi.setup("My Bodhi server").json() == {"status": "resource-admin"}
    assert bodhi.app_info()["status"] == "resource-admin"
    assert bodhi.setup("My Bodhi server").json()["error"]["code"] == "already_setup"

    admin = browser()
    me = admin.login_as("admin@example.test")
    assert (me["auth_status"], me["role"]) == ("logged_in", "resource_admin")
    assert bodhi.app_info()["status"] == "ready"

    bob = browser()
    assert bob.login_as("bob")["role"] is None
    assert bob.request_access().status_code == 201
    assert bob.request_access().json()["error"]["code"] == "access_request_pending"
    pending = admin.pending_requests()
    assert [r["username"] for r in pending] == ["bob"]

    assert admin.approve(pending[0]["id"], "resource_power_user").status_code == 200
    assert bob.whoami()["auth_status"] == "logged_out"  # sessions ended: the role applies at once
    assert bob.login_as("bob")["role"] == "resource_power_user"

    token = bob.create_token("scope_token_user", name="ci")
    assert token.startswith("bodhiapp_")
    assert len(token) == 52
    robot = bob.with_bearer(token)
    assert robot.whoami() == {"auth_status": "api_token", "role": "scope_token_user"}
    listed = bob.tokens()
    assert "token_hash" not in listed[0]
    assert bob.set_token_status(listed[0]["id"], "inactive").status_code == 200
    response = robot.http.get("/bodhi/v1/user")
    assert response.json() == {"auth_status": "logged_out"}
    response = robot.http.get("/bodhi/v1/tokens")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_inactive"
