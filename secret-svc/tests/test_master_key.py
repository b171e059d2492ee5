"""Where the master key comes from, and a wrong one: the vault refuses to open and changes
nothing."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from keyring.backends.fail import Keyring as NoKeyring
from keyrings.alt.file import PlaintextKeyring

from bodhi_common.errors import StartupError
from secret_svc.store import SecretStore

from support import ENTRY, dump_database, new_master_key, open_vault, settings_env


async def test_a_wrong_master_key_refuses_to_open_and_changes_nothing(
    store: SecretStore, database_url: str
) -> None:
    vault = await open_vault(store, database_url, BODHI_MASTER_KEY=new_master_key())
    await vault.put("auth", "client_secret", b"s3cret", ENTRY)
    before = await dump_database(database_url)
    with pytest.raises(StartupError, match="the master key does not open this vault"):
        await open_vault(store, database_url, BODHI_MASTER_KEY=new_master_key())
    assert await dump_database(database_url) == before


async def test_a_passphrase_is_stretched_with_recorded_parameters(
    store: SecretStore, database_url: str
) -> None:
    first = await open_vault(store, database_url, BODHI_MASTER_PASSPHRASE="correct horse battery")
    await first.put("auth", "name", b"value", ENTRY)
    again = await open_vault(store, database_url, BODHI_MASTER_PASSPHRASE="correct horse battery")
    assert (await again.get("auth", "name"))[0] == b"value"
    with pytest.raises(StartupError, match="does not open this vault"):
        await open_vault(store, database_url, BODHI_MASTER_PASSPHRASE="wrong horse battery")
    with pytest.raises(StartupError, match="master key is a passphrase, but a key is configured"):
        await open_vault(store, database_url, BODHI_MASTER_KEY=new_master_key())


async def test_a_key_file_is_read_and_a_bad_one_is_named(
    store: SecretStore, database_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text(new_master_key() + "\n")
    vault = await open_vault(store, database_url, BODHI_MASTER_KEY_FILE=str(key_file))
    await vault.put("auth", "name", b"value", ENTRY)
    key_file.write_text("not base64!")
    with pytest.raises(StartupError, match="BODHI_MASTER_KEY_FILE must be base64 of 32"):
        await open_vault(store, database_url, BODHI_MASTER_KEY_FILE=str(key_file))
    missing = str(tmp_path / "absent.key")
    with pytest.raises(StartupError, match="cannot read BODHI_MASTER_KEY_FILE"):
        await open_vault(store, database_url, BODHI_MASTER_KEY_FILE=missing)


@pytest.mark.parametrize("key", ["", "c2hvcnQ=", base64.b64encode(os.urandom(31)).decode()])
async def test_a_key_of_the_wrong_size_is_refused(
    store: SecretStore, database_url: str, key: str
) -> None:
    with pytest.raises(StartupError, match="BODHI_MASTER_KEY must be base64 of 32 random bytes"):
        await open_vault(store, database_url, BODHI_MASTER_KEY=key or "=")


def file_keyring(path: Path) -> PlaintextKeyring:
    keyring = PlaintextKeyring()
    keyring.file_path = str(path)
    return keyring


async def test_the_os_keyring_holds_a_key_made_on_first_use(
    store: SecretStore, database_url: str, tmp_path: Path
) -> None:
    keyring = file_keyring(tmp_path / "keyring.cfg")
    vault = await open_vault(store, database_url, keyring)
    await vault.put("auth", "name", b"value", ENTRY)
    stored = keyring.get_password("bodhi-secret-svc", "master-key")
    assert stored is not None
    assert len(base64.b64decode(stored)) == 32
    again = await open_vault(store, database_url, file_keyring(tmp_path / "keyring.cfg"))
    assert (await again.get("auth", "name"))[0] == b"value"


async def test_an_empty_keyring_never_gets_a_new_key_for_an_existing_vault(
    store: SecretStore, database_url: str, tmp_path: Path
) -> None:
    await open_vault(store, database_url, BODHI_MASTER_KEY=new_master_key())
    keyring = file_keyring(tmp_path / "empty.cfg")
    with pytest.raises(StartupError, match=r"has no master key .* for this existing vault"):
        await open_vault(store, database_url, keyring)
    assert keyring.get_password("bodhi-secret-svc", "master-key") is None


async def test_no_key_and_no_usable_keyring_is_one_clear_line(
    store: SecretStore, database_url: str
) -> None:
    with pytest.raises(StartupError, match="the OS keyring is not usable"):
        await open_vault(store, database_url, NoKeyring())


def test_the_service_process_refuses_a_wrong_key_with_one_line(database_url: str) -> None:
    env = {**os.environ, **settings_env(database_url, BODHI_MASTER_KEY=new_master_key())}
    serve = [sys.executable, "-m", "secret_svc", "status"]
    assert subprocess.run(serve, env=env, capture_output=True, check=False).returncode == 0
    env["BODHI_MASTER_KEY"] = new_master_key()
    result = subprocess.run(serve, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "secret-cli: the master key does not open this vault (key version 1); "
        "refusing to start (nothing was changed)"
    )
