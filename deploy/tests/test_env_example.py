""".env.example documents every setting of every settings Struct and every variable that
docker-compose.yml interpolates, with the right defaults and comments."""

from __future__ import annotations

import msgspec
import pytest

from bodhi_common.service_settings import ServiceSettings
from bodhi_devstack.components import ALL

from support import (
    COMPOSE_SECTION,
    SERVICES_SECTION,
    SETTINGS,
    EnvExample,
    field_description,
    interpolations,
)


def test_env_example_sections(env_example: EnvExample) -> None:
    assert set(env_example) == {COMPOSE_SECTION, SERVICES_SECTION, *SETTINGS}
    shared = {f.encode_name for f in msgspec.structs.fields(ServiceSettings)}
    stale = [n for n in env_example[SERVICES_SECTION] if n not in shared]
    for section, cls in SETTINGS.items():
        names = {f.encode_name for f in msgspec.structs.fields(cls)}
        stale += [f"[{section}] {n}" for n in env_example[section] if n not in names]
    assert not stale, f"documented but not a setting: {stale}"
    commented = [e.name for s in SETTINGS for e in env_example[s].values() if e.active]
    assert not commented, f"component settings must be commented out: {commented}"


@pytest.mark.parametrize("section", list(SETTINGS))
def test_env_example_documents_every_setting(section: str, env_example: EnvExample) -> None:
    cls = SETTINGS[section]
    component = next(c for c in ALL if c.module == section.replace("-", "_"))
    problems: list[str] = []
    for info in msgspec.structs.fields(cls):
        name = info.encode_name
        entry = env_example[section].get(name)
        if entry is None and issubclass(cls, ServiceSettings):
            entry = env_example[SERVICES_SECTION].get(name)
        if entry is None:
            problems.append(f"{name} ({cls.__name__}) is not in [{section}]")
            continue
        where = f".env.example:{entry.line} {name}"
        text = field_description(info)
        if not text or text not in entry.comment:
            problems.append(f"{where}: the comment above must contain {text!r}")
        if info.required:
            if entry.value or "required" not in entry.comment:
                problems.append(f"{where}: required, so `# {name}=` with 'required' above")
        else:
            default = "" if info.default is None else str(info.default)
            if entry.value != default:
                problems.append(f"{where}: the default is {default!r}, not {entry.value!r}")
            if "required" in entry.comment:
                problems.append(f"{where}: has a default, so it is not required")
        if name in component.env and "set by make run/compose" not in entry.comment:
            problems.append(f"{where}: say 'set by make run/compose' above it")
    assert not problems, "\n".join(problems)


def test_env_example_documents_every_compose_variable(
    env_example: EnvExample,
) -> None:
    documented = env_example[COMPOSE_SECTION]
    used = interpolations()
    problems = [f"{i.name} is used by docker-compose.yml" for i in used if i.name not in documented]
    problems += [
        f"{n} is not used by docker-compose.yml"
        for n in documented
        if n not in {i.name for i in used}
    ]
    for i in used:
        entry = documented.get(i.name)
        if entry is None:
            continue
        required = i.op in (":?", "?")
        if required and (not entry.active or entry.value or "required" not in entry.comment):
            problems.append(f"{i.name}: required, so `{i.name}=` (empty) with 'required' above")
        optional = i.op in (":-", "-")
        if optional and (entry.active or entry.value != i.arg or "required" in entry.comment):
            problems.append(f"{i.name}: optional, so `# {i.name}={i.arg}` (its default)")
        if not entry.comment:
            problems.append(f"{i.name}: needs a one-line comment above it")
    assert not problems, "\n".join(problems)
