"""place: the HF cache layout, readable by huggingface_hub, and the other way round."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import msgspec
import pytest
from downloader_support import MiB, home, http, hub, pull, sha256_of
from huggingface_hub import hf_hub_download

from bodhi_common.errors import InvalidArgument
from bodhi_devstack.hub import LocalHub
from model_svc.downloader import RemoteFile, cached_file, place, repo_folder

__all__ = ["home", "http", "hub"]

REMOTE = RemoteFile(
    repo="acme/x",
    filename="model.gguf",
    url="http://127.0.0.1:9/acme/x/resolve/main/model.gguf",
    size=1,
    sha256=None,
    etag="e" * 40,
    commit="c" * 40,
    accept_ranges=True,
    send_token=True,
)


async def test_a_file_in_a_subfolder_is_linked_relatively_and_its_branch_recorded(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/nested", "quants/Q4/model.gguf", size=MiB, seed=21)

    placed = await pull(http, hub, f, home)

    storage = home / "hub" / "models--acme--nested"
    assert placed == storage / "snapshots" / f.commit / "quants" / "Q4" / "model.gguf"
    assert placed.is_symlink()
    assert str(placed.readlink()) == f"../../../../blobs/{f.sha256}"
    assert (storage / "refs" / "main").read_text() == f.commit
    assert sha256_of(storage / "blobs" / f.sha256) == f.sha256
    found = hf_hub_download(
        f.repo, f.filename, cache_dir=home / "hub", local_files_only=True, revision=f.commit
    )
    assert Path(found) == placed
    assert cached_file(home, f.repo, f.filename, "main") == placed
    assert cached_file(home, f.repo, f.filename, f.commit) == placed


async def test_a_pull_by_commit_writes_no_ref(
    http: aiohttp.ClientSession, hub: LocalHub, home: Path
) -> None:
    f = hub.add_file("acme/pinned", "model.gguf", size=MiB, seed=22)
    by_commit = msgspec.structs.replace(f, revision=f.commit)

    placed = await pull(http, hub, by_commit, home)

    assert not (repo_folder(home, f.repo) / "refs").exists()
    assert cached_file(home, f.repo, f.filename, f.commit) == placed
    assert cached_file(home, f.repo, f.filename, "main") is None


def test_a_file_huggingface_hub_downloaded_is_found_in_the_cache(hub: LocalHub, home: Path) -> None:
    f = hub.add_gguf("acme/theirs-GGUF", "theirs.Q8_0.gguf", pad_to=MiB)

    theirs = hf_hub_download(f.repo, f.filename, cache_dir=home / "hub", endpoint=hub.url)

    assert cached_file(home, f.repo, f.filename, "main") == Path(theirs)
    assert cached_file(home, f.repo, "other.gguf", "main") is None
    assert cached_file(home, "acme/absent", f.filename, "main") is None


def test_place_refuses_a_filename_that_would_leave_the_snapshot(home: Path, tmp_path: Path) -> None:
    partial = tmp_path / "x.part"
    partial.write_bytes(b"x")

    with pytest.raises(InvalidArgument):
        place(home, REMOTE, "acme/x", "../../../../outside", "main", partial)

    assert partial.exists()
    assert not (home / "hub").exists()
