"""An operator scrapes the running system: the gateway's /metrics after real traffic (counted by
route template, never by the raw path) and each service's own metrics port, all read with the
Prometheus text parser."""

from __future__ import annotations

import httpx
import pytest
from conftest import PROVIDER_KEY

from bodhi_devstack.components import SERVICES
from bodhi_devstack.scrape import Samples, parse
from bodhi_devstack.stack import Stack
from bodhi_devstack.upstream import LocalUpstream
from bodhi_e2e.client import BodhiClient

RAW_ALIAS = "no-such-alias-3f9c1d"


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over the samples carrying at least `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def labels_of(samples: Samples) -> set[str]:
    return {value for _, label_set in samples for _, value in label_set}


def test_the_gateway_counts_requests_by_route_template(stack: Stack, admin: BodhiClient) -> None:
    token = admin.create_token("scope_token_user", "metrics e2e")
    with admin.with_bearer(token) as client:
        for _ in range(2):
            assert client.http.get(f"/bodhi/v1/models/{RAW_ALIAS}").status_code == 404
    samples = scrape(f"{stack.gateway_url}/metrics")
    route = "/bodhi/v1/models/{alias}"
    assert total(samples, "bodhi_http_requests_total", route=route, status="404") >= 2
    assert total(samples, "bodhi_http_request_duration_seconds_count", route=route) >= 2
    assert not any(RAW_ALIAS in label or token in label for label in labels_of(samples))
    assert total(samples, "bodhi_cache_lookups_total", cache="bearer", result="hit") >= 1
    assert ("bodhi_event_loop_lag_seconds_count", frozenset()) in samples


def test_aiproxy_reports_upstream_calls_by_provider(
    stack: Stack, admin: BodhiClient, provider: LocalUpstream
) -> None:
    body = {"base_url": provider.url, "api_key": PROVIDER_KEY, "model": "gpt-e2e", "prompt": "hi"}
    assert admin.http.post("/bodhi/v1/api-models/test", json=body).json()["success"] is True
    assert admin.http.get("/v1/models").status_code == 200  # routes from the API model table
    samples = scrape(f"http://{stack.metrics_address('aiproxy')}/metrics")
    assert total(samples, "bodhi_cache_lookups_total", cache="api_models") >= 1
    upstream = "bodhi_upstream_responses_total"
    assert total(samples, upstream, provider="test", status="2xx") >= 1
    assert total(samples, "bodhi_upstream_response_seconds_count", provider="test") >= 1
    assert PROVIDER_KEY not in str(samples)


@pytest.mark.parametrize("name", [c.name for c in SERVICES])
def test_every_service_serves_its_own_metrics(stack: Stack, admin: BodhiClient, name: str) -> None:
    assert admin.http.get("/ready").status_code == 200
    samples = scrape(f"http://{stack.metrics_address(name)}/metrics")
    assert total(samples, "bodhi_db_pool_max_connections") >= 1
    assert total(samples, "bodhi_db_pool_connections") >= 1
    assert ("bodhi_event_loop_lag_seconds_count", frozenset()) in samples
    if name == "model":
        assert ("bodhi_downloads_in_flight", frozenset()) in samples
        assert ("bodhi_download_bytes_total", frozenset()) in samples
    # setup, login and the calls above reached every service (secret-svc through auth-svc)
    assert total(samples, "bodhi_grpc_server_handled_total") >= 1
