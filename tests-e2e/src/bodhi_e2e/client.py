"""A small client of intent-named helpers, so each e2e test reads as a user journey."""

from __future__ import annotations

import time
from typing import Any

import httpx


class BodhiClient:
    """What a user (or a script) does against the gateway, one helper per intent."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def app_info(self) -> dict[str, Any]:
        """GET /bodhi/v1/info (must succeed)."""
        response = self.http.get("/bodhi/v1/info")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def readiness(self) -> httpx.Response:
        """GET /ready, whatever it answers."""
        return self.http.get("/ready")

    def wait_until(self, ready: bool, timeout: float = 15.0) -> httpx.Response:
        """Poll /ready until it reports `ready` (200) or not (503); the last response."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.readiness()
            if (response.status_code == 200) == ready or time.monotonic() > deadline:
                return response
            time.sleep(0.2)

    def setup(self, name: str, description: str = "") -> httpx.Response:
        """POST /bodhi/v1/setup."""
        return self.http.post("/bodhi/v1/setup", json={"name": name, "description": description})
