"""GET /metrics on the gateway, read with the Prometheus text parser: requests by route
template (never the raw path) and status, latency, bearer cache lookups, event-loop lag."""

from __future__ import annotations

import httpx

from bodhi_devstack.scrape import Samples, parse, value

Client = httpx.AsyncClient
RAW_ID = "d0wnl0ad-id-that-must-not-be-a-label"


async def scrape(client: Client) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_requests_are_counted_by_route_template_and_status(client: Client) -> None:
    for _ in range(2):
        assert (await client.get("/ping")).status_code == 200
    refused = await client.get(f"/bodhi/v1/modelfiles/pull/{RAW_ID}")
    assert refused.status_code == 401
    samples = await scrape(client)
    requests = "bodhi_http_requests_total"
    assert value(samples, requests, method="GET", route="/ping", status="200") == 2
    template = "/bodhi/v1/modelfiles/pull/{download_id}"
    assert value(samples, requests, method="GET", route=template, status="401") == 1
    duration = "bodhi_http_request_duration_seconds_count"
    assert value(samples, duration, method="GET", route="/ping") == 2
    labels = {v for _, label_set in samples for _, v in label_set}
    assert not any(RAW_ID in label for label in labels)


async def test_requests_that_match_no_route_are_counted_without_their_path(
    client: Client,
) -> None:
    assert (await client.get(f"/no/such/{RAW_ID}")).status_code == 404
    samples = await scrape(client)
    requests = "bodhi_http_requests_total"
    assert value(samples, requests, method="GET", route="unmatched", status="404") == 1
    labels = {v for _, label_set in samples for _, v in label_set}
    assert not any(RAW_ID in label for label in labels)


async def test_bearer_cache_lookups_and_loop_lag_are_exported(client: Client) -> None:
    headers = {"Authorization": "Bearer bodhiapp_not-a-real-token-0123456789"}
    assert (await client.get("/bodhi/v1/models", headers=headers)).status_code == 401
    samples = await scrape(client)
    misses = value(samples, "bodhi_cache_lookups_total", cache="bearer", result="miss")
    assert (misses or 0) >= 1
    assert value(samples, "bodhi_cache_lookups_total", cache="bearer", result="hit") == 0
    assert value(samples, "bodhi_event_loop_lag_seconds_count") is not None


async def test_the_metrics_route_is_not_in_the_api_document(client: Client) -> None:
    paths = (await client.get("/api-docs/openapi.json")).json()["paths"]
    assert "/metrics" not in paths
