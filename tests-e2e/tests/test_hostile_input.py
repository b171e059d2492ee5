"""Hostile input against a whole stack (reliability-security.md G15, X-series limits): oversize
bodies and headers, JSON that is not JSON, hostile paths and invalid bearer tokens get a clear
4xx with a stable code, in the route's own error shape, and never a 5xx or a hang; the invalid-
token limit holds across two gateway instances sharing Redis, and so do the per-person limits on
pulls and provider calls. (Generated bodies for every route are test_hostile_schema.py's.)"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from conftest import PROVIDER_KEY

from bodhi_devstack.proc import free_port
from bodhi_devstack.stack import Stack
from bodhi_devstack.upstream import LocalUpstream
from bodhi_e2e.client import BodhiClient, power_user

DEADLINE = 20.0  # no-hang bound only, never a timing assertion
THROTTLE_KEY = "bodhi:bad-bearer:127.0.0.1"


@pytest.fixture(scope="module")
def robot(admin: BodhiClient) -> Iterator[httpx.Client]:
    """An API-token client (power user) with no cookies."""
    token = admin.create_token("scope_token_power_user", name="hostile input")
    with httpx.Client(
        base_url=admin.base_url, timeout=DEADLINE, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


def code_of(response: httpx.Response) -> tuple[int, str]:
    """Status and stable code (OpenAI envelope or Ollama's shape)."""
    error = response.json()["error"]
    return response.status_code, error["code"] if isinstance(error, dict) else response.json()[
        "code"
    ]


@pytest.mark.parametrize(
    ("path", "size", "code"),
    [
        ("/bodhi/v1/models", 70_000, "request_too_large"),
        ("/bodhi/v1/api-models/fetch-models", 70_000, "request_too_large"),
        ("/v1/chat/completions", 16 * 1024 * 1024, "request_too_large"),
        ("/v1/embeddings", 16 * 1024 * 1024, "request_too_large"),
    ],
)
def test_an_oversize_body_is_413(robot: httpx.Client, path: str, size: int, code: str) -> None:
    body = b'{"model": "x", "name": "' + b"a" * size + b'"}'
    response = robot.post(path, content=body, headers={"content-type": "application/json"})
    assert code_of(response) == (413, code)


def test_a_large_chat_body_under_its_limit_is_not_refused_for_size(robot: httpx.Client) -> None:
    body = b'{"model": "no-such-model", "messages": [], "pad": "' + b"a" * 2_000_000 + b'"}'
    response = robot.post("/v1/chat/completions", content=body)
    assert response.status_code != 413
    assert response.status_code < 500


def test_ollama_gets_its_own_error_shape_for_an_oversize_body(robot: httpx.Client) -> None:
    response = robot.post("/api/chat", content=b'{"model": "' + b"a" * (16 * 1024 * 1024) + b'"}')
    assert response.status_code == 413
    assert isinstance(response.json()["error"], str)
    assert response.json()["code"] == "request_too_large"


def test_oversize_headers_are_431(robot: httpx.Client) -> None:
    for path in ("/bodhi/v1/tokens", "/v1/models", "/api/tags"):
        response = robot.get(path, headers={"x-padding": "a" * 40_000})
        assert code_of(response) == (431, "request_headers_too_large"), path


@pytest.mark.parametrize(
    "body",
    [b"[" * 30_000, b'{"model": "m", "messages": ' + b"[" * 30_000, b'{"model": "\xff\xfe"}'],
    ids=["deep", "deep inside", "invalid utf-8"],
)
@pytest.mark.parametrize("path", ["/bodhi/v1/models", "/v1/chat/completions", "/api/chat"])
def test_json_that_is_not_json_is_400(robot: httpx.Client, body: bytes, path: str) -> None:
    response = robot.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert code_of(response)[1] in ("invalid_json", "invalid_request")


def test_a_form_body_on_a_json_route_is_415(robot: httpx.Client) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = robot.post("/bodhi/v1/models", content=b"alias=x&repo=y", headers=form)
    assert code_of(response) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    "path",
    [
        "/bodhi/v1/models/..",
        "/bodhi/v1/models/%2e%2e",
        "/bodhi/v1/models/a%00b",
        "/bodhi/v1/modelfiles/pull/%2e",
        "/bodhi/v1/api-models/..%2f..%2fetc",
        "/bodhi/v1/tokens/a%0db",
        "/v1/models/../../../etc/passwd",
        "/bodhi/v1/access-requests/%00/approve",
        "/bodhi/v1/settings/%2e%2e",
    ],
)
def test_hostile_path_parameters_are_a_clear_4xx(
    stack: Stack, robot: httpx.Client, path: str
) -> None:
    token = robot.headers["Authorization"]
    status, body = raw_request(stack.gateway_url, "GET", path, token)
    assert 400 <= status < 500, body
    assert status in (400, 404, 405), body


@pytest.mark.parametrize("action", ["approve", "reject"])
@pytest.mark.parametrize("request_id", ["4762842581391272501870824783872", "0", "-1"])
def test_an_access_request_id_out_of_range_is_400(
    admin: BodhiClient, action: str, request_id: str
) -> None:
    """Ids are int64 in auth-svc: a larger one could not even be sent there (schemathesis found
    it as a 500)."""
    body = {"role": "resource_user"} if action == "approve" else None
    response = admin.http.post(f"/bodhi/v1/access-requests/{request_id}/{action}", json=body)
    assert code_of(response) == (400, "invalid_request"), response.text


@pytest.mark.parametrize("params", [{"seed": 10**30}, {"max_tokens": 2**63}, {"max_tokens": -1}])
def test_alias_numbers_out_of_range_are_400(robot: httpx.Client, params: dict[str, int]) -> None:
    """An alias's seed and max_tokens are int64 in model-svc: out of range is a 400."""
    body = {"alias": "hostile:int", "repo": "a/b", "filename": "c.gguf", "request_params": params}
    response = robot.post("/bodhi/v1/models", json=body)
    assert code_of(response) == (400, "invalid_request"), response.text


def raw_request(base_url: str, method: str, path: str, authorization: str) -> tuple[int, bytes]:
    """One request with `path` exactly as written (clients resolve dot segments first)."""
    url = urlsplit(base_url)
    assert url.hostname is not None
    assert url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=DEADLINE) as conn:
        head = f"{method} {path} HTTP/1.1\r\nhost: {url.netloc}\r\nauthorization: {authorization}"
        conn.sendall(f"{head}\r\nconnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_hostile_query_values_never_fail_the_server(robot: httpx.Client) -> None:
    for repo, filename in (("../../etc", "passwd"), ("a/b", "../../x.gguf"), ("a\x00b", "c")):
        response = robot.get(
            "/bodhi/v1/modelfiles/metadata", params={"repo": repo, "filename": filename}
        )
        assert 400 <= response.status_code < 500, response.text


def test_invalid_tokens_are_refused_with_429_on_every_instance(stack: Stack) -> None:
    port = free_port()
    stack.extra_gateway(port)
    other = f"http://127.0.0.1:{port}"
    with redis.Redis.from_url(stack.redis_url) as store:
        store.delete(THROTTLE_KEY)  # earlier tests' failures from this address do not count
        statuses = []
        for i in range(20):  # BODHI_INVALID_BEARER_LIMIT's default
            forged = {"Authorization": f"Bearer bodhiapp_hostile{i}"}
            statuses.append(httpx.get(stack.gateway_url + "/v1/models", headers=forged).status_code)
        assert statuses == [401] * 20
        forged = {"Authorization": "Bearer bodhiapp_hostile-next"}
        for base in (stack.gateway_url, other):
            for path in ("/v1/models", "/api/tags", "/bodhi/v1/tokens"):
                response = httpx.get(base + path, headers=forged, timeout=DEADLINE)
                assert code_of(response) == (429, "too_many_invalid_tokens"), (base, path)
                assert 0 < int(response.headers["retry-after"]) <= 60
        store.delete(THROTTLE_KEY)
    stack.children.pop(f"gateway-{port}").stop()


Call = Callable[[BodhiClient], httpx.Response]


def spend_then_refused(
    stack: Stack, person: BodhiClient, admin: BodhiClient, call: Call, limit: int, code: str
) -> None:
    """`limit` calls are served (whatever they answer, never a 429), the next is refused with
    `code` and Retry-After on this gateway and on a second instance sharing Redis, and another
    person (the admin) is not refused."""
    answers = [call(person).status_code for _ in range(limit)]
    assert 429 not in answers, answers
    assert max(answers) < 500, answers
    port = free_port()
    stack.extra_gateway(port)
    try:
        with BodhiClient(f"http://127.0.0.1:{port}", cookies=person.http.cookies) as elsewhere:
            for client in (person, elsewhere):
                response = call(client)
                assert code_of(response) == (429, code), response.text
                assert 0 < int(response.headers["retry-after"]) <= 60
    finally:
        stack.children.pop(f"gateway-{port}").stop()
    assert call(admin).status_code != 429


def test_pulls_are_limited_per_person_on_every_instance(
    stack: Stack, admin: BodhiClient, browser: Callable[[], BodhiClient]
) -> None:
    """BODHI_PULL_LIMIT (30 a minute by default) counts every pull a person starts, found or
    not (an unknown alias is 404 here: nothing to download, but the Hub could have been asked)."""
    # unique to the run: Redis and its counters outlive a stack
    person = power_user(admin, browser, f"hasty-puller-{uuid.uuid4().hex[:8]}")

    def pull(client: BodhiClient) -> httpx.Response:
        return client.http.post("/bodhi/v1/modelfiles/pull/no-such:alias", timeout=DEADLINE)

    spend_then_refused(stack, person, admin, pull, limit=30, code="too_many_pulls")


def test_provider_calls_are_limited_per_person_on_every_instance(
    stack: Stack, admin: BodhiClient, browser: Callable[[], BodhiClient], provider: LocalUpstream
) -> None:
    """BODHI_PROVIDER_CHECK_LIMIT (20 a minute by default) counts each provider test or model
    listing a person asks for, so the gateway cannot be used to hammer a provider."""
    person = power_user(admin, browser, f"hasty-checker-{uuid.uuid4().hex[:8]}")
    body = {"base_url": provider.url, "api_key": PROVIDER_KEY}

    def fetch(client: BodhiClient) -> httpx.Response:
        return client.http.post("/bodhi/v1/api-models/fetch-models", json=body, timeout=DEADLINE)

    spend_then_refused(stack, person, admin, fetch, limit=20, code="too_many_provider_checks")
