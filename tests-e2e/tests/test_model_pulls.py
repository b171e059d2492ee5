"""Issue 5 through the gateway: a power user pulls GGUF files from a (local, real) Hub, watches
progress as server-sent events, cancels and resumes, and names files with aliases; a user with a
read-only token can look but not change anything."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from conftest import launch

from bodhi_devstack.hub import LocalHub
from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient

MiB = 1024 * 1024
HUB_TOKEN = "hf_e2eGatedAccessToken0123456789"  # the local Hub accepts it
TERMINAL = {"completed", "error", "cancelled"}
CATALOG = """
- alias: e2e:chat
  repo: acme/catalog-GGUF
  filename: catalog.Q4_0.gguf
  request_params: {temperature: 0.5, stop: ["</s>"]}
  context_params: ["--ctx-size", "1024"]
"""


@pytest.fixture(scope="module")
def hub() -> Iterator[LocalHub]:
    with LocalHub(tokens=[HUB_TOKEN]) as local_hub:
        yield local_hub


@pytest.fixture(scope="module")
def hub_stack(
    pg_server: str, redis_server: str, tmp_path_factory: pytest.TempPathFactory, hub: LocalHub
) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("models")
    catalog = data_dir / "catalog.yaml"
    catalog.write_text(CATALOG)
    env = {"HF_ENDPOINT": hub.url, "BODHI_CATALOG_FILE": str(catalog)}
    with launch(pg_server, redis_server, data_dir, env=env) as stack:
        yield stack


@pytest.fixture(scope="module")
def owner(hub_stack: Stack) -> Iterator[BodhiClient]:
    client = BodhiClient(hub_stack.gateway_url)
    assert client.setup("Model pulls").status_code == 200
    client.login_as("admin")
    yield client
    client.close()


def events(client: BodhiClient, download_id: str) -> list[dict[str, Any]]:
    """The SSE stream of a download, read until the download ends."""
    return list(events_until(client, download_id, lambda _: False))


def events_until(
    client: BodhiClient, download_id: str, stop: Callable[[dict[str, Any]], bool]
) -> Iterator[dict[str, Any]]:
    """The SSE stream of a download, until `stop` says so or the download ends."""
    url = f"/bodhi/v1/modelfiles/pull/{download_id}/events"
    with client.http.stream("GET", url, timeout=httpx.Timeout(10, read=30)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line.removeprefix("data:").strip())
                yield event
                if stop(event) or event["status"] in TERMINAL:
                    return


def cached_sha256(stack: Stack, repo: str, filename: str) -> str:
    """The SHA-256 of the file model-svc placed in its HF_HOME (refs/main → snapshot)."""
    repo_dir = stack.plan.model_cache / "hub" / f"models--{repo.replace('/', '--')}"
    commit = (repo_dir / "refs" / "main").read_text().strip()
    return hashlib.sha256((repo_dir / "snapshots" / commit / filename).read_bytes()).hexdigest()


def code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_pull_is_deduplicated_streams_progress_and_lands_verified(
    owner: BodhiClient, hub: LocalHub, hub_stack: Stack
) -> None:
    repo, filename = "acme/slow-GGUF", "slow.Q8_0.gguf"
    file = hub.add_gguf(repo, filename, name="slow", context_length=2048, pad_to=6 * MiB)
    hub.fault(repo, filename, throttle=2 * MiB)  # ~3 s: long enough to watch and to ask twice
    first = owner.http.post("/bodhi/v1/modelfiles/pull", json={"repo": repo, "filename": filename})
    assert first.status_code == 201, first.text
    again = owner.http.post("/bodhi/v1/modelfiles/pull", json={"repo": repo, "filename": filename})
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])

    stream = events(owner, first.json()["id"])
    assert stream[-1]["status"] == "completed"
    assert stream[-1]["downloaded_bytes"] == stream[-1]["total_bytes"] == file.size
    progress = [e["downloaded_bytes"] for e in stream]
    assert progress == sorted(progress), progress
    assert len(set(progress)) >= 2, progress  # seen in flight, not only at the end
    assert cached_sha256(hub_stack, repo, filename) == file.sha256

    listed = owner.http.get("/bodhi/v1/modelfiles", params={"sort": "size"}).json()["data"]
    assert {"repo": repo, "filename": filename, "snapshot": file.commit, "size": file.size} in [
        {k: f[k] for k in ("repo", "filename", "snapshot", "size")} for f in listed
    ]
    meta = owner.http.get(
        "/bodhi/v1/modelfiles/metadata", params={"repo": repo, "filename": filename}
    )
    assert (meta.status_code, meta.json()["context_length"]) == (200, 2048), meta.text
    done = owner.http.post("/bodhi/v1/modelfiles/pull", json={"repo": repo, "filename": filename})
    assert code(done) == (400, "file_already_exists")


def test_a_cancelled_pull_resumes_where_it_stopped(owner: BodhiClient, hub: LocalHub) -> None:
    repo, filename = "acme/cancel-GGUF", "cancel.Q8_0.gguf"
    file = hub.add_file(repo, filename, size=8 * MiB, seed=5)
    hub.fault(repo, filename, throttle=1 * MiB)
    body = {"repo": repo, "filename": filename}
    started = owner.http.post("/bodhi/v1/modelfiles/pull", json=body).json()
    download_id = started["id"]
    for event in events_until(owner, download_id, lambda e: e["downloaded_bytes"] >= 2 * MiB):
        assert event["status"] == "pending"
    cancelled = owner.http.delete(f"/bodhi/v1/modelfiles/pull/{download_id}")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert owner.http.get(f"/bodhi/v1/modelfiles/pull/{download_id}").json()["status"] == (
        "cancelled"
    )

    hub.fault(repo, filename)  # full speed now
    hub.clear_requests()
    resumed = owner.http.post("/bodhi/v1/modelfiles/pull", json=body)
    assert resumed.status_code == 201, resumed.text
    assert resumed.json()["id"] != download_id  # a new request; the partial file is reused
    assert events(owner, resumed.json()["id"])[-1]["status"] == "completed"
    gets = [r for r in hub.requests(repo, filename) if r.method == "GET"]
    fetched = sum(r.bytes_sent for r in gets)
    assert fetched <= file.size - 2 * MiB, (fetched, [r.range for r in gets])


def test_aliases_name_cached_files_and_the_catalog_pulls_one(
    owner: BodhiClient, hub: LocalHub
) -> None:
    repo, filename = "acme/alias-GGUF", "alias.Q4_0.gguf"
    hub.add_gguf(repo, filename, name="alias", context_length=4096)
    pulled = owner.http.post("/bodhi/v1/modelfiles/pull", json={"repo": repo, "filename": filename})
    assert events(owner, pulled.json()["id"])[-1]["status"] == "completed"

    body = {
        "alias": "mine:chat", "repo": repo, "filename": filename,
        "request_params": {"temperature": 0.2}, "context_params": ["--ctx-size", "512"],
    }  # fmt: skip
    created = owner.http.post("/bodhi/v1/models", json=body)
    assert created.status_code == 201, created.text
    assert code(owner.http.post("/bodhi/v1/models", json=body)) == (409, "alias_exists")
    shown = owner.http.get("/bodhi/v1/models/mine:chat").json()
    assert shown["request_params"]["temperature"] == 0.2
    assert shown["context_params"] == ["--ctx-size", "512"]
    assert shown["model_params"]["context_length"] == 4096
    put = owner.http.put("/bodhi/v1/models/mine:chat", json={"repo": repo, "filename": filename})
    assert put.status_code == 200, put.text
    assert put.json().get("request_params", {}) == {}  # omitted parameters are cleared

    catalog = owner.http.get("/bodhi/v1/modelfiles/catalog").json()["data"]
    assert [(c["alias"], c["downloaded"]) for c in catalog] == [("e2e:chat", False)]
    hub.add_gguf("acme/catalog-GGUF", "catalog.Q4_0.gguf", name="catalog")
    by_alias = owner.http.post("/bodhi/v1/modelfiles/pull/e2e:chat")
    assert by_alias.status_code == 201, by_alias.text
    assert events(owner, by_alias.json()["id"])[-1]["status"] == "completed"
    made = owner.http.get("/bodhi/v1/models/e2e:chat").json()
    assert made["context_params"] == ["--ctx-size", "1024"]
    assert made["request_params"]["temperature"] == 0.5

    names = {a["alias"]: a["source"] for a in owner.http.get("/bodhi/v1/models").json()["data"]}
    assert names["mine:chat"] == names["e2e:chat"] == "user"
    assert names[f"{repo}:Q4_0"] == "model"  # derived from the cached file
    assert owner.http.delete("/bodhi/v1/models/mine:chat").status_code == 204
    assert code(owner.http.get("/bodhi/v1/models/mine:chat")) == (404, "alias_not_found")


def test_bad_input_is_refused_with_a_code_and_readers_cannot_pull(
    owner: BodhiClient, hub_stack: Stack
) -> None:
    pull = "/bodhi/v1/modelfiles/pull"
    malformed = {"repo": "x", "filename": "a.gguf"}
    assert code(owner.http.post(pull, json=malformed)) == (400, "invalid_repo")
    escaping = {"repo": "acme/x-GGUF", "filename": "../../etc/passwd"}
    assert code(owner.http.post(pull, json=escaping)) == (400, "invalid_filename")
    missing = owner.http.post(pull, json={"repo": "acme/nothing-here", "filename": "a.gguf"})
    assert missing.status_code == 201  # the Hub is asked in the background, the error recorded
    ended = events(owner, missing.json()["id"])[-1]
    assert (ended["status"], ended["error_code"]) == ("error", "hub_repo_not_found"), ended
    assert code(owner.http.post("/bodhi/v1/modelfiles/pull/no:such")) == (
        404,
        "catalog_model_not_found",
    )
    assert owner.http.get("/bodhi/v1/modelfiles/pull/not-an-id").status_code in (400, 404)

    reader = BodhiClient(hub_stack.gateway_url).with_bearer(owner.create_token("scope_token_user"))
    assert reader.http.get("/bodhi/v1/models").status_code == 200
    refused = reader.http.post(
        "/bodhi/v1/modelfiles/pull", json={"repo": "acme/x-GGUF", "filename": "a.gguf"}
    )
    assert code(refused) == (403, "forbidden")
    reader.close()


def test_an_admin_stores_the_hub_token_that_opens_a_gated_repo(
    owner: BodhiClient, hub: LocalHub, hub_stack: Stack
) -> None:
    repo, filename = "acme/gated-GGUF", "gated.Q4_0.gguf"
    file = hub.add_gguf(repo, filename, name="gated", gated=True)
    assert owner.http.get("/bodhi/v1/hub-token").json() == {"source": "none", "stored": False}
    refused = owner.http.post(
        "/bodhi/v1/modelfiles/pull", json={"repo": repo, "filename": filename}
    )
    ended = events(owner, refused.json()["id"])[-1]
    assert (ended["status"], ended["error_code"]) == ("error", "hub_gated_access")

    assert code(owner.http.put("/bodhi/v1/hub-token", json={"token": "has space"})) == (
        400,
        "invalid_hub_token",
    )
    stored = owner.http.put("/bodhi/v1/hub-token", json={"token": HUB_TOKEN})
    assert stored.json() == {"source": "stored", "stored": True}, stored.text
    pulled = owner.http.post("/bodhi/v1/modelfiles/pull", json={"repo": repo, "filename": filename})
    assert events(owner, pulled.json()["id"])[-1]["status"] == "completed"
    assert cached_sha256(hub_stack, repo, filename) == file.sha256
    assert all(r.authorized for r in hub.requests(repo, filename)[-2:])

    power = BodhiClient(hub_stack.gateway_url).with_bearer(owner.create_token("scope_token_admin"))
    assert code(power.http.put("/bodhi/v1/hub-token", json={"token": "hf_other_token"})) == (
        401,
        "missing_auth",
    )  # session only: a leaked API token cannot swap the server's Hub credentials
    power.close()
    removed = owner.http.delete("/bodhi/v1/hub-token")
    assert removed.json() == {"source": "none", "stored": False}
    log = (hub_stack.plan.data_dir / "stack.log").read_text()
    assert HUB_TOKEN not in log
