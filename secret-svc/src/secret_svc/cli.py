"""The operator's commands, run against the vault's database with the service's own settings
(the master key included), audited as caller `secret-cli`:

    python -m secret_svc status
    python -m secret_svc rotate
    python -m secret_svc rewrap [--batch-size N]
    python -m secret_svc retire MIN_VERSION
    python -m secret_svc export FILE      # passphrase: BODHI_BACKUP_PASSPHRASE or a prompt
    python -m secret_svc import FILE
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from bodhi_common.bootstrap import service_database
from bodhi_common.clock import SystemClock
from bodhi_common.context import ADMIN_ROLE, Caller, Principal, caller_var
from bodhi_common.errors import ServiceError, StartupError
from secret_svc.audit import Auditor
from secret_svc.backup import BackupEntry, BackupError, open_backup, seal_backup
from secret_svc.domain import NAMESPACES
from secret_svc.settings import SecretSettings
from secret_svc.store import SecretStore
from secret_svc.vault import Vault

MIGRATIONS = Path(__file__).parent / "migrations"


def parser() -> argparse.ArgumentParser:
    """The command line."""
    cli = argparse.ArgumentParser(prog="python -m secret_svc", description=__doc__.split("\n")[0])
    commands = cli.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the gRPC API (the default)")
    commands.add_parser("status", help="key versions and record counts")
    commands.add_parser("rotate", help="add a key version and make it current")
    rewrap = commands.add_parser("rewrap", help="re-encrypt older records under the current key")
    rewrap.add_argument("--batch-size", type=int, default=0, help="records per transaction")
    retire = commands.add_parser("retire", help="stop decrypting versions below MIN_VERSION")
    retire.add_argument("min_version", type=int)
    for name, text in (("export", "write a sealed backup"), ("import", "restore a backup")):
        commands.add_parser(name, help=text).add_argument("file", type=Path)
    return cli


async def operate(settings: SecretSettings, args: argparse.Namespace) -> None:
    """Open the vault and run one command; results go to stdout, progress to stderr."""
    clock = SystemClock()
    principal = Principal(sub=f"os:{getpass.getuser()}", role=ADMIN_ROLE)
    caller_var.set(Caller(service="secret-cli", principal=principal))
    async with service_database("secret", settings, MIGRATIONS, clock) as pool:
        store = SecretStore(pool)
        vault = await Vault.open(store, settings, clock)
        retention = settings.bodhi_audit_retention_days
        async with Auditor(store, vault.audit_key, clock, retention) as audit:
            try:
                result = await COMMANDS[args.command](vault, audit, settings, args)
            except (ServiceError, BackupError) as exc:
                raise StartupError(str(exc)) from None
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(result)).decode() + "\n")


async def _status(vault: Vault, audit: Auditor, settings: SecretSettings, args: Any) -> object:
    async with audit.audited("status", None, None, mutation=False, admin=True):
        return await vault.status()


async def _rotate(vault: Vault, audit: Auditor, settings: SecretSettings, args: Any) -> object:
    async with audit.audited("rotate", None, None, mutation=True, admin=True) as entry:
        return {"current_version": await vault.rotate(entry)}


async def _rewrap(vault: Vault, audit: Auditor, settings: SecretSettings, args: Any) -> object:
    batch = args.batch_size or settings.bodhi_rewrap_batch_size
    done = failed = 0
    async with audit.audited("rewrap", None, None, mutation=False, admin=True):
        while True:  # one batch per call, so progress shows and Ctrl-C loses at most one batch
            step = await vault.rewrap(batch, batch)
            done, failed = done + step.rewrapped, failed + step.failed
            sys.stderr.write(f"rewrapped {done}, remaining {step.remaining}\n")
            if step.rewrapped == 0:
                return msgspec.structs.replace(step, rewrapped=done, failed=failed)


async def _retire(vault: Vault, audit: Auditor, settings: SecretSettings, args: Any) -> object:
    async with audit.audited("retire", None, None, mutation=True, admin=True) as entry:
        stranded = await vault.retire_below(args.min_version, entry)
    return {"min_version": args.min_version, "stranded": stranded}


async def _export(vault: Vault, audit: Auditor, settings: SecretSettings, args: Any) -> object:
    path: Path = args.file
    if await asyncio.to_thread(path.exists):
        raise BackupError(f"{path} exists; choose a new file")
    passphrase = _passphrase(confirm=True)
    entries = []
    async with audit.audited("export", None, None, mutation=False, admin=True):
        for namespace in sorted(NAMESPACES):
            for record in await _all(vault, namespace):
                value, _ = await vault.get(namespace, record.name)
                entries.append(BackupEntry(namespace=namespace, name=record.name, value=value))
    data = seal_backup(entries, passphrase)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return {"exported": len(entries), "file": str(path)}


async def _all(vault: Vault, namespace: str) -> list[Any]:
    records, offset = [], 0
    while True:
        page, total = await vault.list(namespace, "", 100, offset)
        records += page
        offset += len(page)
        if not page or offset >= total:
            return records


async def _import(vault: Vault, audit: Auditor, settings: SecretSettings, args: Any) -> object:
    data = await asyncio.to_thread(Path(args.file).read_bytes)
    entries = open_backup(data, _passphrase(confirm=False))
    for item in entries:
        ns, name = item.namespace, item.name
        async with audit.audited("import", ns, name, mutation=True, admin=True) as entry:
            await vault.put(ns, name, item.value, entry)
    return {"imported": len(entries)}


def _passphrase(confirm: bool) -> str:
    given = os.environ.get("BODHI_BACKUP_PASSPHRASE")
    if given:
        return given
    first = getpass.getpass("backup passphrase: ")
    if confirm and getpass.getpass("again: ") != first:
        raise BackupError("the passphrases differ")
    if len(first) < 12:
        raise BackupError("use a backup passphrase of at least 12 characters")
    return first


COMMANDS = {
    "status": _status,
    "rotate": _rotate,
    "rewrap": _rewrap,
    "retire": _retire,
    "export": _export,
    "import": _import,
}
