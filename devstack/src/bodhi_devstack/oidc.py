"""The development OpenID provider (node `oidc-provider`, devstack/oidc/server.mjs) as a child.

The provider logs in any username (a `login_hint` does it headlessly, otherwise a username-only
form), registers clients dynamically (RFC 7591), issues RS256 id_tokens and JWT access tokens,
rotating refresh tokens, and keeps its signing keys in `data_dir` so they survive restarts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import httpx

from bodhi_devstack.proc import Child

OIDC_DIR: Path = Path(__file__).resolve().parents[2] / "oidc"
"""devstack/oidc: server.mjs, package.json, package-lock.json; node_modules after `make setup`."""

SERVER_SCRIPT = "server.mjs"
READY_TIMEOUT = 15.0
"""Seconds to wait for discovery after spawning; the provider is usually ready in well under 1 s."""


class NodeModulesMissingError(RuntimeError):
    """The provider's npm packages are not installed."""


def ensure_node_modules() -> None:
    """Raise a clear error when `npm ci` has not been run in devstack/oidc."""
    if not (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        raise NodeModulesMissingError(
            f"the dev OIDC provider's npm packages are missing ({OIDC_DIR / 'node_modules'}); "
            "run `make setup` (or `npm ci` in devstack/oidc)"
        )


def node_executable() -> str:
    """The `node` binary on PATH; a clear error when Node.js is not installed."""
    node = shutil.which("node")
    if node is None:
        raise NodeModulesMissingError(
            "Node.js (`node`) is not on PATH; it is needed for the dev OIDC provider"
        )
    return node


def oidc_env(
    issuer: str, data_dir: Path, extra_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The provider's environment: ours, then OIDC_ISSUER / OIDC_DATA_DIR, then `extra_env`."""
    env = dict(os.environ)
    env["OIDC_ISSUER"] = issuer
    env["OIDC_DATA_DIR"] = str(data_dir)
    if extra_env:
        env.update(extra_env)
    return env


def oidc_child(
    issuer: str,
    data_dir: Path,
    *,
    sink: TextIO | None = None,
    extra_env: Mapping[str, str] | None = None,
    name: str = "oidc",
) -> Child:
    """An unstarted `node server.mjs` child serving `issuer` with its keys kept in `data_dir`.

    `extra_env` may set OIDC_REGISTRATION_TOKEN, OIDC_CLIENTS, OIDC_HOST/OIDC_PORT,
    OIDC_DEFAULT_RESOURCE and the lifetimes OIDC_ACCESS_TOKEN_TTL, OIDC_ID_TOKEN_TTL,
    OIDC_REFRESH_TOKEN_TTL, OIDC_SESSION_TTL, OIDC_GRANT_TTL, OIDC_AUTHORIZATION_CODE_TTL,
    OIDC_INTERACTION_TTL (seconds).
    """
    return Child(
        name,
        [node_executable(), SERVER_SCRIPT],
        env=oidc_env(issuer, data_dir, extra_env),
        cwd=OIDC_DIR,
        sink=sink,
    )


def discovery_url(issuer: str) -> str:
    """The provider's OpenID discovery document URL."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def discovery_ready(issuer: str, timeout: float = 0.5) -> bool:
    """True when GET {issuer}/.well-known/openid-configuration answers 200."""
    try:
        response = httpx.get(discovery_url(issuer), timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def start_oidc(
    issuer: str,
    data_dir: Path,
    *,
    sink: TextIO | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = READY_TIMEOUT,
    name: str = "oidc",
) -> Child:
    """Check the install, start the provider and wait until discovery answers (StartupError if not).

    The child is stopped again when it does not become ready.
    """
    ensure_node_modules()
    child = oidc_child(issuer, data_dir, sink=sink, extra_env=extra_env, name=name).start()
    try:
        child.wait_ready(lambda: discovery_ready(issuer), timeout)
    except BaseException:
        child.stop()
        raise
    return child
