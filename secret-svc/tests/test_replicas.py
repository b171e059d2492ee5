"""Two vaults on one database (two replicas, or a replica and the CLI) stay consistent: a write
never lands under a key version another one has rotated away from."""

from __future__ import annotations

import asyncio

from secret_svc.store import SecretStore

from support import ENTRY, new_master_key, open_vault


async def test_a_write_after_another_replica_rotated_uses_the_new_version(
    store: SecretStore, database_url: str
) -> None:
    key = new_master_key()
    first = await open_vault(store, database_url, BODHI_MASTER_KEY=key)
    second = await open_vault(store, database_url, BODHI_MASTER_KEY=key)
    assert await first.rotate(ENTRY) == 2
    # The second replica still believes version 1 is current; the store refuses that write
    # and the vault retries under the version it reads back.
    record, _ = await second.put("auth", "client_secret", b"value", ENTRY)
    assert record.key_version == 2
    assert (await first.get("auth", "client_secret"))[0] == b"value"


async def test_a_replica_reads_records_under_a_version_created_after_it_started(
    store: SecretStore, database_url: str
) -> None:
    key = new_master_key()
    first = await open_vault(store, database_url, BODHI_MASTER_KEY=key)
    second = await open_vault(store, database_url, BODHI_MASTER_KEY=key)
    await first.rotate(ENTRY)
    await first.put("model", "hf_token", b"hf_abc", ENTRY)
    assert (await second.get("model", "hf_token"))[0] == b"hf_abc"


async def test_two_replicas_rewrapping_together_rewrap_each_record_once(
    store: SecretStore, database_url: str
) -> None:
    key = new_master_key()
    first = await open_vault(store, database_url, BODHI_MASTER_KEY=key)
    second = await open_vault(store, database_url, BODHI_MASTER_KEY=key)
    for i in range(300):
        await first.put("aiproxy", f"k{i:03}", f"v{i}".encode(), ENTRY)
    await first.rotate(ENTRY)
    results = await asyncio.gather(first.rewrap(20, 0), second.rewrap(20, 0))
    assert sum(r.rewrapped for r in results) == 300
    assert [r.failed for r in results] == [0, 0]
    # Each `remaining` is a snapshot taken when that call ended (the first to end may still see
    # the other's last batch uncommitted); once both have ended nothing is left below the target.
    assert min(r.remaining for r in results) == 0
    assert await store.count_below(results[0].target_version) == 0
    for i in range(300):
        assert (await second.get("aiproxy", f"k{i:03}"))[0] == f"v{i}".encode()
