"""The Dockerfile (and the compose services' inline Dockerfiles): hadolint-clean, one image per
COMPONENT build arg, a non-root runtime, and a .dockerignore that keeps local state out."""

from __future__ import annotations

import re
from typing import Any

from support import DOCKERFILE, ROOT, SETTINGS, Dockerfile, allowed_components, run_hadolint


def test_hadolint_dockerfile() -> None:
    result = run_hadolint(DOCKERFILE.read_text())
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_inline_dockerfiles(services: dict[str, Any]) -> None:
    inline = {
        name: service["build"]["dockerfile_inline"]
        for name, service in services.items()
        if (service.get("build") or {}).get("dockerfile_inline")
    }
    assert "oidc" in inline
    for name, text in inline.items():
        result = run_hadolint(text)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_hadolint_reports_problems() -> None:
    """The linter really fails a bad file (so a silent wrapper cannot pass the checks above)."""
    result = run_hadolint("FROM python\nRUN apt-get install curl\n")
    assert result.returncode != 0
    assert "DL3006" in result.stdout


def test_dockerfile_is_parametrised_by_component(dockerfile: Dockerfile) -> None:
    assert ("ARG", "COMPONENT") in dockerfile.preamble
    assert dockerfile.stages[-1].base == "${COMPONENT}", "the image must be the COMPONENT stage"
    builder = dockerfile.stage("builder")
    assert builder is not None
    runs = " ".join(builder.all("RUN"))
    assert '--package "bodhi-${COMPONENT}"' in runs
    assert "--no-editable" in runs
    assert "--no-dev" in runs
    assert "grpc_tools.protoc" in runs
    assert re.search(r"\buv==\d+\.\d+\.\d+\b", runs), "pin uv"
    stages = {s.name for s in dockerfile.stages if s.name}
    assert allowed_components(dockerfile) == set(SETTINGS) <= stages


def test_dockerfile_runtime_stage(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.stage("runtime")
    assert runtime is not None
    user = runtime.last("USER")
    assert user is not None, "the runtime stage must set USER"
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), f"USER {user}: want a fixed non-root uid"
    envs = " ".join(runtime.all("ENV"))
    assert "PYTHONUNBUFFERED=1" in envs
    assert runtime.all("COPY") == ["--from=builder /opt/venv /opt/venv"]
    everything = [args for stage in dockerfile.stages for kw, args in stage.instructions]
    for listen in ("BODHI_GRPC_LISTEN=", "BODHI_HOST="):
        assert not any(listen in args for args in everything), f"{listen} is baked in"


def test_dockerignore_keeps_local_state_out_of_the_build() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    wanted = {".git", ".venv", ".data", ".env", "**/node_modules", "**/__pycache__"}
    assert wanted <= ignored, f"missing from .dockerignore: {wanted - ignored}"
    assert "common/src/bodhi" in ignored, "the image generates its own stubs"
