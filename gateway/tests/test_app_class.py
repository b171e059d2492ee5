"""The gateway's Litestar loads no model library it does not use (litestar_app.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# A fresh interpreter: this test process may have imported pydantic for its own reasons.
PROBE = """
import json, os, sys
from bodhi_common.config import load
from gateway.app import create_app
from gateway.settings import GatewaySettings
app = create_app(load(GatewaySettings, dict(os.environ)))
loaded = [m for m in ("pydantic", "attr", "attrs", "opentelemetry") if m in sys.modules]
print(json.dumps({"loaded": loaded, "paths": len(app.openapi_schema.paths or {})}))
"""


def test_the_app_loads_no_pydantic_attrs_or_opentelemetry() -> None:
    env = {
        **os.environ,
        "REDIS_URL": "redis://127.0.0.1:1/0",  # built, never connected: the app is not started
        "BODHI_INTERNAL_KEY": "k" * 40,
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["loaded"] == []
    assert probe["paths"] > 40  # the document is still built, from the msgspec types
