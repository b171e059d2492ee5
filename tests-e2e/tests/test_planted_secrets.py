"""Issue 7, logs: known secrets are planted in requests that go wrong in every way we can think
of (bad bearer tokens, forged cookies, refused provider keys, a stored Hub token); the log scan
in test_zz_secrets_in_logs.py, which runs last, then finds none of them in any process's log."""

from __future__ import annotations

import httpx

from bodhi_devstack.stack import Stack
from bodhi_e2e.client import BodhiClient

TOKEN = "bodhiapp_PlantedBearerToken_0123456789"
SESSION = "PlantedSessionCookie_0123456789abcdefghij"
PROVIDER_KEY = "sk-planted-provider-key-0123456789"
HUB_TOKEN = "hf_PlantedHubToken0123456789abcdef"


def test_secrets_sent_in_failing_requests(
    admin: BodhiClient, stack: Stack, canaries: set[str]
) -> None:
    canaries.update({TOKEN, SESSION, PROVIDER_KEY, HUB_TOKEN})
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as anyone:
        bearer = anyone.get("/bodhi/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 401
        cookie = anyone.get(
            "/bodhi/v1/tokens", headers={"Cookie": f"bodhiapp_session_id={SESSION}"}
        )
        assert cookie.status_code == 401
        for response in (bearer, cookie):
            assert TOKEN not in response.text
            assert SESSION not in response.text
    refused = admin.http.post(
        "/bodhi/v1/api-models",
        json={"base_url": "ftp://nowhere", "api_key": PROVIDER_KEY, "models": ["m"]},
    )
    assert refused.status_code == 400
    unreachable = admin.http.post(
        "/bodhi/v1/api-models/test",
        json={"api_key": PROVIDER_KEY, "base_url": "http://127.0.0.1:9/v1", "model": "m",
              "prompt": "hi"},
    )  # fmt: skip
    assert unreachable.json()["success"] is False
    stored = admin.http.put("/bodhi/v1/hub-token", json={"token": HUB_TOKEN})
    assert stored.status_code == 200
    assert admin.http.delete("/bodhi/v1/hub-token").status_code == 200
    for response in (refused, unreachable, stored):
        assert PROVIDER_KEY not in response.text
        assert HUB_TOKEN not in response.text
