"""Log lines never carry a credential, wherever it was put: redaction by construction."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bodhi_common.logs import JsonFormatter, redact

PLANTED = [
    "bodhiapp_PlantedApiToken0123456789",
    "sk-planted-provider-key-0123456789",
    "hf_PlantedHubToken0123456789",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ",
    "PlantedSessionId_0123456789abcdef",
]


@pytest.fixture
def lines() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("planted")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_planted_credentials_never_reach_a_log_line(
    lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = lines
    token, key, hub, jwt, session = PLANTED
    logger.info("calling with Authorization: Bearer %s and %s", token, key)
    logger.info("a cookie", extra={"header": f"bodhiapp_session_id={session}; theme=dark"})
    logger.info(
        "fields",
        extra={
            "api_key": "anything-at-all",
            "token": session,
            "nested": {"password": "pw-1", "note": hub},
        },
    )
    try:
        raise ValueError(f"provider said: invalid key {key} for {jwt}")
    except ValueError:
        logger.exception("failed")
    out = stream.getvalue()
    assert all(json.loads(line) for line in out.splitlines())  # still one JSON object per line
    leaked = [secret for secret in [*PLANTED, "anything-at-all", "pw-1"] if secret in out]
    assert leaked == []
    assert "Bearer ***" in out
    assert "sk-***" in out


def test_ordinary_text_is_left_alone() -> None:
    text = "model acme/tiny-GGUF:Q8_0 pulled by user-1 at sk (no key here), risk-free"
    assert redact(text) == text
