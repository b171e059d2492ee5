"""The development OpenID provider as a process: signing keys that persist across restarts in a
private file, logs free of secrets, and the hint when its node_modules are missing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bodhi_devstack import oidc

from support import Provider, launch, register, token_request, tokens_for


def test_keys_survive_a_restart_and_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = launch(data_dir)
    try:
        kids = {k.kid for k in first.jwks()}
    finally:
        assert first.child.stop() == 0
    key_file = data_dir / "jwks.json"
    assert key_file.stat().st_mode & 0o777 == 0o600

    second = launch(data_dir)
    try:
        assert {k.kid for k in second.jwks()} == kids
        assert "ready issuer=" + second.issuer in second.log.getvalue()
    finally:
        assert second.child.stop() == 0

    fresh = launch(tmp_path / "other")
    try:
        assert {k.kid for k in fresh.jwks()}.isdisjoint(kids)
    finally:
        fresh.child.stop()


def test_logs_carry_no_tokens(provider: Provider) -> None:
    client = register(provider)
    tokens = tokens_for(provider, client, "frank")
    token_request(provider, client, {"grant_type": "refresh_token", "refresh_token": "bogus"})
    time.sleep(0.1)  # let the output pump catch up
    logged = provider.log.getvalue()
    assert f"ready issuer={provider.issuer}" in logged
    for value in (
        client["client_secret"],
        tokens["access_token"],
        tokens["id_token"],
        tokens["refresh_token"],
    ):
        assert value not in logged


def test_missing_node_modules_says_to_run_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oidc, "OIDC_DIR", tmp_path)
    with pytest.raises(oidc.NodeModulesMissingError, match="make setup"):
        oidc.ensure_node_modules()
