"""Settings from the environment: one line naming the bad variable, secrets never shown."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from bodhi_common.config import SECRET, ConfigError, description, is_secret, load, mask_url
from bodhi_common.service_settings import ServiceSettings

KEY = "k" * 32


class Example(msgspec.Struct, frozen=True, kw_only=True, rename="upper"):
    database_url: Annotated[str, msgspec.Meta(description="where", extra=SECRET)]
    bodhi_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 1135
    bodhi_flag: bool = False


def test_values_come_from_upper_cased_variables_with_types_converted() -> None:
    env = {"DATABASE_URL": "postgresql://x", "BODHI_PORT": "8080", "BODHI_FLAG": "true"}
    assert load(Example, env) == Example(
        database_url="postgresql://x", bodhi_port=8080, bodhi_flag=True
    )


def test_defaults_apply_and_an_empty_variable_counts_as_unset() -> None:
    settings = load(Example, {"DATABASE_URL": "postgresql://x", "BODHI_PORT": ""})
    assert settings.bodhi_port == 1135


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "DATABASE_URL is required but not set"),
        ({"DATABASE_URL": "x", "BODHI_PORT": "eighty"}, "BODHI_PORT: Expected `int`, got `str`"),
        ({"DATABASE_URL": "x", "BODHI_PORT": "70000"}, "BODHI_PORT: Expected `int` <= 65535"),
        ({"DATABASE_URL": "x", "BODHI_FLAG": "maybe"}, "BODHI_FLAG: Expected `bool`, got `str`"),
    ],
)
def test_a_missing_or_malformed_variable_is_one_line_naming_it(
    env: dict[str, str], line: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(Example, env)
    assert str(caught.value) == line


def test_a_short_internal_key_is_refused_without_echoing_it() -> None:
    env = {"DATABASE_URL": "postgresql://x", "BODHI_INTERNAL_KEY": "tooshort-secret"}
    with pytest.raises(ConfigError) as caught:
        load(ServiceSettings, env)
    assert "BODHI_INTERNAL_KEY" in str(caught.value)
    assert "tooshort-secret" not in str(caught.value)


class Optional_(msgspec.Struct, frozen=True, kw_only=True, rename="upper"):
    token: Annotated[str, msgspec.Meta(description="a token", extra=SECRET)] | None = None


def test_marks_inside_an_optional_type_are_found() -> None:
    field = msgspec.structs.fields(Optional_)[0]
    assert is_secret(field)
    assert description(field) == "a token"


def test_fields_carry_secret_marks_and_descriptions() -> None:
    fields = {f.encode_name: f for f in msgspec.structs.fields(Example)}
    assert is_secret(fields["DATABASE_URL"])
    assert not is_secret(fields["BODHI_PORT"])
    assert description(fields["DATABASE_URL"]) == "where"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bodhi:s3cr%40t@db:5432/auth", "postgresql://bodhi:***@db:5432/auth"),
        ("postgresql://postgres@127.0.0.1/x", "postgresql://postgres@127.0.0.1/x"),
        ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert mask_url(url) == shown
