"""Issue 7, settings: an admin sees every component's settings and changes the editable ones;
a change applies at once (no restart), and bad values get the reference's codes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import cache_gguf, launch

from bodhi_devstack.proc import free_port
from bodhi_devstack.stack import Stack
from bodhi_devstack.upstream import Behaviour, LocalUpstream
from bodhi_e2e.client import BodhiClient

PATH = "/bodhi/v1/settings"


def _code(response: Any) -> str:
    return str(response.json()["error"]["code"])


@pytest.fixture
def restore(admin: BodhiClient) -> Iterator[list[tuple[str, str]]]:
    """Settings a test changed, reset afterwards (the session stack is shared)."""
    changed: list[tuple[str, str]] = []
    yield changed
    for key, component in changed:
        admin.http.delete(f"{PATH}/{key}", params={"component": component})


def test_every_component_lists_its_settings(admin: BodhiClient) -> None:
    listed = admin.http.get(PATH)
    assert listed.status_code == 200
    settings = listed.json()
    components = {s["component"] for s in settings}
    assert components == {"gateway", "auth-svc", "secret-svc", "model-svc", "aiproxy-svc"}
    by = {(s["component"], s["key"]): s for s in settings}
    assert by[("model-svc", "DATABASE_URL")]["current_value"] == "***"
    assert by[("gateway", "BODHI_INTERNAL_KEY")]["current_value"] == "***"
    workers = by[("model-svc", "BODHI_DOWNLOAD_WORKERS")]
    assert workers["editable"]
    assert workers["metadata"] == {"type": "number", "min": 1, "max": 16, "integer": True}
    level = by[("aiproxy-svc", "BODHI_LOG_LEVEL")]
    assert level["metadata"]["options"] == ["error", "warn", "info", "debug", "trace"]
    assert level["source"] in ("environment", "default")
    assert not by[("auth-svc", "BODHI_DB_POOL_SIZE")]["editable"]
    editable = sorted(k for (c, k), s in by.items() if s["editable"] and c == "gateway")
    assert editable == ["BODHI_LOG_LEVEL", "BODHI_SESSION_IDLE_SECONDS"]


def test_bad_changes_are_refused_with_the_reference_codes(admin: BodhiClient) -> None:
    cases = [
        ("NOPE", None, {"value": 1}, 404, "settings_error-not_found"),
        ("BODHI_DB_POOL_SIZE", "model-svc", {"value": 3}, 400, "settings_error-unsupported"),
        ("BODHI_LOG_LEVEL", None, {"value": "debug"}, 400, "settings_error-ambiguous_key"),
        ("BODHI_LOG_LEVEL", "model-svc", {"value": "loud"}, 400,
         "settings_metadata_error-invalid_value"),
        ("BODHI_LOG_LEVEL", "model-svc", {"value": None}, 400,
         "settings_metadata_error-null_value"),
        ("BODHI_DOWNLOAD_WORKERS", None, {"value": "many"}, 400,
         "settings_metadata_error-invalid_value_type"),
        ("BODHI_DOWNLOAD_WORKERS", None, {"value": 0}, 400,
         "settings_metadata_error-invalid_value"),
    ]  # fmt: skip
    for key, component, body, status, code in cases:
        params = {"component": component} if component else {}
        response = admin.http.put(f"{PATH}/{key}", json=body, params=params)
        assert (response.status_code, _code(response)) == (status, code), key


def test_changes_apply_at_once_and_reset(
    admin: BodhiClient, restore: list[tuple[str, str]]
) -> None:
    for key, component, value in (
        ("BODHI_DOWNLOAD_WORKERS", "model-svc", 3),
        ("BODHI_SESSION_IDLE_SECONDS", "gateway", "3600"),
    ):
        restore.append((key, component))
        params = {"component": component}
        changed = admin.http.put(f"{PATH}/{key}", json={"value": value}, params=params)
        assert changed.status_code == 200, changed.text
        assert changed.json()["source"] == "database"
        assert float(changed.json()["current_value"]) == float(value)
    reset = admin.http.delete(f"{PATH}/BODHI_DOWNLOAD_WORKERS", params={"component": "model-svc"})
    assert reset.status_code == 200
    assert reset.json()["source"] == "default"
    assert admin.whoami()["auth_status"] == "logged_in"  # the session survived its own change


def test_the_environment_wins_over_a_stored_value(
    admin: BodhiClient, restore: list[tuple[str, str]]
) -> None:
    restore.append(("BODHI_LOG_LEVEL", "secret-svc"))  # the stack sets it in the environment
    params = {"component": "secret-svc"}
    changed = admin.http.put(f"{PATH}/BODHI_LOG_LEVEL", json={"value": "debug"}, params=params)
    assert changed.status_code == 200
    assert (changed.json()["source"], changed.json()["current_value"]) == ("environment", "info")


@pytest.fixture(scope="module")
def bare_stack(
    pg_server: str, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A stack whose aiproxy has no local backend in its environment."""
    with launch(pg_server, redis_server, tmp_path_factory.mktemp("settings")) as stack:
        yield stack


def test_the_local_backend_is_set_and_moved_without_a_restart(bare_stack: Stack) -> None:
    with BodhiClient(bare_stack.gateway_url) as owner:
        assert owner.setup("Live settings server").status_code == 200
        owner.login_as("admin")
        cache_gguf(bare_stack, "acme/live-GGUF", "live.Q4_0.gguf")
        alias = {"alias": "live:chat", "repo": "acme/live-GGUF", "filename": "live.Q4_0.gguf"}
        assert owner.http.post("/bodhi/v1/models", json=alias).status_code == 201
        token = owner.create_token("scope_token_user", "settings e2e")
        ask = {"model": "live:chat", "messages": [{"role": "user", "content": "where"}]}
        with owner.with_bearer(token) as user, LocalUpstream(api_key=None, models=[]) as backend:
            backend.behave("live:chat", Behaviour())
            unset = user.http.post("/v1/chat/completions", json=ask)
            assert (unset.status_code, _code(unset)) == (503, "local_backend_not_configured")
            moved = owner.http.put(f"{PATH}/BODHI_LLM_BACKEND_URL", json={"value": backend.url})
            assert moved.status_code == 200, moved.text
            assert user.http.post("/v1/chat/completions", json=ask).status_code == 200
            assert [r.json["model"] for r in backend.requests] == ["live:chat"]
            assert owner.http.delete(f"{PATH}/BODHI_LLM_BACKEND_URL").status_code == 200
            again = user.http.post("/v1/chat/completions", json=ask)
            assert again.status_code == 503
            assert len(backend.requests) == 1


def test_a_gateway_setting_reaches_every_gateway(
    admin: BodhiClient, stack: Stack, restore: list[tuple[str, str]]
) -> None:
    port = free_port()
    stack.extra_gateway(port)
    restore.append(("BODHI_SESSION_IDLE_SECONDS", "gateway"))
    changed = admin.http.put(
        f"{PATH}/BODHI_SESSION_IDLE_SECONDS", json={"value": 1800}, params={"component": "gateway"}
    )
    assert changed.status_code == 200
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies=admin.http.cookies) as other:
        for _ in range(100):  # Redis pub/sub carries it to the other gateway: allow 2 s
            listed = other.get(PATH)
            assert listed.status_code == 200
            idle = next(
                s for s in listed.json()
                if (s["component"], s["key"]) == ("gateway", "BODHI_SESSION_IDLE_SECONDS")
            )  # fmt: skip
            if idle["source"] == "database":
                break
            time.sleep(0.02)
    assert (idle["source"], idle["current_value"]) == ("database", 1800)
    stack.children.pop(f"gateway-{port}").stop()
