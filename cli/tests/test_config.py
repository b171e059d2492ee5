"""Where the URL and token come from, and the config file `bodhi login` writes."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from bodhi_cli.config import DEFAULT_URL, config_path, load, save
from bodhi_cli.errors import USAGE, CliError


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save(path, "http://file:1", "bodhiapp_file")
    env = {"BODHI_CONFIG": str(path)}
    assert (load(env).url, load(env).token) == ("http://file:1", "bodhiapp_file")
    env |= {"BODHI_URL": "http://env:2/", "BODHI_TOKEN": "bodhiapp_env"}
    assert (load(env).url, load(env).token) == ("http://env:2", "bodhiapp_env")


def test_without_either_the_default_url_and_no_token(tmp_path: Path) -> None:
    config = load({"BODHI_CONFIG": str(tmp_path / "absent.toml")})
    assert (config.url, config.token) == (DEFAULT_URL, None)


def test_the_default_path_follows_xdg() -> None:
    assert config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/bodhi/config.toml")


def test_the_file_is_owner_only_even_when_it_existed(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    path.parent.mkdir()
    path.write_text("")
    path.chmod(0o644)
    save(path, "http://h:1", 'tok"en\\ü')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text()) == {"url": "http://h:1", "token": 'tok"en\\ü'}


def test_an_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("url = ")
    with pytest.raises(CliError) as raised:
        load({"BODHI_CONFIG": str(path)})
    assert raised.value.exit_code == USAGE


def test_the_token_is_not_in_the_repr(tmp_path: Path) -> None:
    config = load({"BODHI_CONFIG": str(tmp_path / "c"), "BODHI_TOKEN": "bodhiapp_secret"})
    assert "bodhiapp_secret" not in repr(config)
