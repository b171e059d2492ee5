"""README.md documents every configuration variable of every settings Struct, so a new setting
cannot be added without documenting it, and names the commands that run and test the system."""

from __future__ import annotations

import re

import msgspec
import pytest

from support import ROOT, SETTINGS

README = ROOT / "README.md"
COMMANDS = ("make run", "make test")


def mentions(text: str, word: str) -> bool:
    """`word` occurs in `text` as a whole word: BODHI_PORT is not found in BODHI_PORTS, nor
    `make test` in `make test-e2e`."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


@pytest.mark.parametrize("section", list(SETTINGS))
def test_readme_documents_every_setting(section: str) -> None:
    cls = SETTINGS[section]
    text = README.read_text()
    names = [info.encode_name for info in msgspec.structs.fields(cls)]
    assert names, f"{cls.__name__} has no settings"
    missing = [name for name in names if not mentions(text, name)]
    assert not missing, f"README.md does not mention these {cls.__name__} settings: {missing}"


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_names_the_command(command: str) -> None:
    assert mentions(README.read_text(), command), f"README.md does not mention `{command}`"
