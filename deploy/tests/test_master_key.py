"""secret-svc's master key in compose: a file on the host, mounted as a compose secret into the
secret service only, named by BODHI_MASTER_KEY_FILE (as `make run` does with .data/master.key),
and never a value in docker-compose.yml or in its rendered configuration."""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
import secrets
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bodhi_common.config import load
from secret_svc.settings import SecretSettings

from support import (
    COMPOSE_SECTION,
    PROFILES,
    ROOT,
    Dockerfile,
    EnvExample,
    Rendered,
    clean_env,
    environment,
    interpolations,
    profiles_id,
    run_compose,
)

SERVICE = "secret"
KEY_FILE_SETTING = "BODHI_MASTER_KEY_FILE"
KEY_VALUE_SETTINGS = ("BODHI_MASTER_KEY", "BODHI_MASTER_PASSPHRASE")
HOST_PATH = "BODHI_MASTER_KEY_HOST_PATH"  # compose-only: where the key file is on the host
KEY_BYTES = 32
# base64 of exactly 32 bytes: 43 characters and one `=`
BASE64_KEY = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])")


def secret_target(mount: dict[str, Any]) -> str:
    """Where compose mounts a service's secret: /run/secrets/<target or source> unless the
    target is absolute."""
    target = mount.get("target") or mount["source"]
    return target if target.startswith("/") else posixpath.join("/run/secrets", target)


def key_secret(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The top-level secret mounted where the secret service's BODHI_MASTER_KEY_FILE points."""
    service = config["services"][SERVICE]
    path = environment(service).get(KEY_FILE_SETTING)
    assert path, f"{SERVICE}: {KEY_FILE_SETTING} is not set"
    mounts = [m for m in service.get("secrets") or [] if secret_target(m) == path]
    assert len(mounts) == 1, f"{SERVICE}: {KEY_FILE_SETTING}={path} is not a mounted secret"
    name = mounts[0]["source"]
    declared = config.get("secrets") or {}
    assert name in declared, f"secret {name} is not declared at the top level"
    return name, declared[name]


def strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def looks_like_a_key(text: str) -> list[str]:
    found = []
    for candidate in BASE64_KEY.findall(text):
        try:
            if len(base64.b64decode(candidate, validate=True)) == KEY_BYTES:
                found.append(candidate)
        except binascii.Error:
            continue
    return found


def render(env_file: Path) -> dict[str, Any]:
    result = run_compose(env_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


@pytest.mark.parametrize("profiles", PROFILES, ids=profiles_id)
def test_secret_service_reads_the_key_from_a_mounted_file_secret(
    rendered: Rendered, profiles: tuple[str, ...]
) -> None:
    config = rendered[profiles]
    env = environment(config["services"][SERVICE])
    path = env[KEY_FILE_SETTING]
    assert path.startswith("/run/secrets/"), f"{KEY_FILE_SETTING}={path}"
    _, declared = key_secret(config)
    # a file on the host: not `content:` (the value in the compose file), not `environment:`
    # (the value in .env), not external (Swarm only)
    assert set(declared) <= {"name", "file"}, declared
    assert declared.get("file"), declared
    # exactly one master-key source, as SecretSettings demands; and the environment compose
    # gives the service is a valid SecretSettings
    assert not [name for name in KEY_VALUE_SETTINGS if name in env]
    settings = load(SecretSettings, env)
    assert settings.bodhi_master_key_file == path


@pytest.mark.parametrize("profiles", PROFILES, ids=profiles_id)
def test_only_the_secret_service_gets_the_master_key(
    rendered: Rendered, profiles: tuple[str, ...]
) -> None:
    config = rendered[profiles]
    name, _ = key_secret(config)
    holders = [
        service_name
        for service_name, service in config["services"].items()
        if any(m["source"] == name for m in service.get("secrets") or [])
    ]
    assert holders == [SERVICE], f"the master key is mounted into {holders}"
    others = [
        f"{service_name}.{key}"
        for service_name, service in config["services"].items()
        if service_name != SERVICE
        for key in environment(service)
        if key in (KEY_FILE_SETTING, *KEY_VALUE_SETTINGS)
    ]
    assert not others, f"master-key settings outside {SERVICE}: {others}"


def test_key_file_is_the_host_path_variable(env_file: Path, tmp_path: Path) -> None:
    """BODHI_MASTER_KEY_HOST_PATH moves the key file; by default it is ./secrets/master.key.
    Its content never reaches the rendered configuration, only its path does."""
    default_name, default = key_secret(render(env_file))
    assert Path(default["file"]) == ROOT / "secrets" / "master.key"

    key = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
    key_file = tmp_path / "elsewhere" / "master.key"
    key_file.parent.mkdir()
    key_file.write_text(key + "\n")
    moved_env = tmp_path / "moved.env"
    moved_env.write_text(env_file.read_text() + f"{HOST_PATH}={key_file}\n")
    for profiles in PROFILES:
        for fmt in ("json", "yaml"):
            result = run_compose(moved_env, "config", "--format", fmt, profiles=profiles)
            assert result.returncode == 0, result.stderr
            assert key not in result.stdout, "the key's value is in the rendered config"
            assert str(key_file) in result.stdout
    name, moved = key_secret(render(moved_env))
    assert name == default_name
    assert Path(moved["file"]) == key_file


@pytest.mark.parametrize("profiles", PROFILES, ids=profiles_id)
def test_no_master_key_value_in_the_rendered_config(
    rendered: Rendered, profiles: tuple[str, ...]
) -> None:
    config = rendered[profiles]
    for service_name, service in config["services"].items():
        env = environment(service)
        present = [name for name in KEY_VALUE_SETTINGS if name in env]
        assert not present, f"{service_name} gets the key as a value: {present}"
    for name, declared in (config.get("secrets") or {}).items():
        assert "content" not in declared, f"secret {name} is written into the compose file"
        assert "environment" not in declared, f"secret {name} comes from a variable"
    keys = [k for text in strings(config) for k in looks_like_a_key(text)]
    assert not keys, "a base64 32-byte key is in the rendered config"
    # nor in the source file, commented or not
    assert not looks_like_a_key((ROOT / "docker-compose.yml").read_text())


def test_the_default_key_file_stays_out_of_the_build_context() -> None:
    """The default key file lies in a folder that .dockerignore keeps out of the build context
    (so no image layer can ever hold it)."""
    defaults = {i.arg for i in interpolations() if i.name == HOST_PATH and i.op in (":-", "-")}
    assert len(defaults) == 1, f"{HOST_PATH} needs one default: {defaults}"
    folder = Path(defaults.pop()).parts[0]
    ignored = {
        line.strip().strip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert folder in ignored, f"{folder}/ (the key file's folder) is not in .dockerignore"


def test_env_example_explains_the_key_file(env_example: EnvExample, dockerfile: Dockerfile) -> None:
    entry = env_example[COMPOSE_SECTION].get(HOST_PATH)
    assert entry is not None, f"[compose] does not document {HOST_PATH}"
    runtime = dockerfile.stage("runtime")
    assert runtime is not None
    user = runtime.last("USER")
    assert user is not None
    uid = user.partition(":")[0]
    assert f"uid {uid}" in entry.comment, f"say above {HOST_PATH} that uid {uid} must read it"
    text = (ROOT / ".env.example").read_text()
    for needed in ("secret_svc export", "back it up", "/run/secrets/"):
        assert needed in text, f".env.example does not mention {needed!r}"


def test_the_documented_key_command_makes_a_valid_key(tmp_path: Path) -> None:
    """The command .env.example gives to create the key file makes base64 of 32 bytes that only
    its owner can read."""
    lines = [
        line.lstrip("#").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "/dev/urandom" in line
    ]
    assert len(lines) == 1, lines
    result = subprocess.run(
        ["/bin/sh", "-c", lines[0]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "secrets" / "master.key"
    text = key_file.read_text()
    assert len(base64.b64decode(text.strip(), validate=True)) == KEY_BYTES
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
