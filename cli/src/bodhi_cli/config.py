"""Where the gateway is and which API token to send: the environment first (BODHI_URL,
BODHI_TOKEN), then the config file (`~/.config/bodhi/config.toml`, or BODHI_CONFIG)."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bodhi_cli.errors import usage

DEFAULT_URL = "http://127.0.0.1:1135"


@dataclass(frozen=True, kw_only=True)
class Config:
    """The gateway's URL and the API token (None when there is none)."""

    url: str
    token: str | None
    path: Path

    def __repr__(self) -> str:  # the token must not end up in a traceback or a log
        return f"Config(url={self.url!r}, token={'***' if self.token else None}, path={self.path})"


def config_path(env: Mapping[str, str]) -> Path:
    """BODHI_CONFIG, else $XDG_CONFIG_HOME/bodhi/config.toml (~/.config by default)."""
    if env.get("BODHI_CONFIG"):
        return Path(env["BODHI_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "bodhi" / "config.toml"


def read_file(path: Path) -> dict[str, str]:
    """The file's string settings; an absent file is empty, an unreadable one a usage error."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise usage(f"cannot read the config file {path}: {type(err).__name__}") from None
    return {key: value for key, value in data.items() if isinstance(value, str)}


def load(env: Mapping[str, str]) -> Config:
    """The environment over the config file over the defaults."""
    path = config_path(env)
    stored = read_file(path)
    url = env.get("BODHI_URL") or stored.get("url") or DEFAULT_URL
    token = env.get("BODHI_TOKEN") or stored.get("token") or None
    return Config(url=url.rstrip("/"), token=token, path=path)


def render(url: str, token: str) -> str:
    """The config file's text (JSON strings are valid TOML basic strings without ASCII escapes
    of astral characters, hence ensure_ascii=False)."""
    lines = [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in (
        ("url", url), ("token", token))]  # fmt: skip
    return "\n".join(lines) + "\n"


def save(path: Path, url: str, token: str) -> None:
    """Write the config file readable by its owner only (created 0600, never world-readable
    even for an instant)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its old mode otherwise
    with os.fdopen(descriptor, "w") as file:
        file.write(render(url, token))
