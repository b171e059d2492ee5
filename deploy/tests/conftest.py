"""Fixtures for the deploy checks: .env.example parsed and filled, the rendered compose services
and the parsed Dockerfile. Each is built once per session; no test modifies them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support import (
    DOCKERFILE,
    ENV_EXAMPLE,
    PROFILES,
    Dockerfile,
    EnvExample,
    Rendered,
    filled_env,
    parse_dockerfile,
    parse_env_example,
    run_compose,
)


@pytest.fixture(scope="session")
def env_example() -> EnvExample:
    return parse_env_example(ENV_EXAMPLE.read_text())


@pytest.fixture(scope="session")
def env_file(env_example: EnvExample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The [compose] section of .env.example with every required secret filled in."""
    path = tmp_path_factory.mktemp("compose") / "filled.env"
    path.write_text(filled_env(env_example))
    return path


@pytest.fixture(scope="session")
def rendered(env_file: Path) -> Rendered:
    """`docker-compose config --format json` for each profile set."""
    out: Rendered = {}
    for profiles in PROFILES:
        result = run_compose(env_file, "config", "--format", "json", profiles=profiles)
        assert result.returncode == 0, result.stderr
        out[profiles] = json.loads(result.stdout)
    return out


@pytest.fixture(scope="session")
def services(rendered: Rendered) -> dict[str, Any]:
    """The services of the full (dev profile) configuration."""
    result: dict[str, Any] = rendered[("dev",)]["services"]
    return result


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="session")
def manifests() -> dict[str, Any]:
    """deploy/k8s rendered once per target (base, dev, prod), for the k8s checks."""
    from k8s_support import render_all

    return render_all()
