"""The local Hugging Face Hub (bodhi_devstack.hub) against real clients: huggingface_hub's own
download and API calls, httpx for ranges and every fault mode, gguf's reader for the GGUF files."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import gguf
import httpx
import pytest
from hub_support import TOKEN, fresh, fresh_one_part, storage, url
from huggingface_hub import (
    HfApi,
    hf_hub_download,
    snapshot_download,
    try_to_load_from_cache,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from bodhi_devstack.hub import LocalHub
from bodhi_devstack.hub_files import BLOCK

# --- huggingface_hub interop ---------------------------------------------------------------------


def test_hf_hub_download_fills_the_standard_cache_layout(hub: LocalHub, tmp_path: Path) -> None:
    f = hub.add_file(fresh(), "weights.bin", size=3 * BLOCK + 123, seed=7)
    path = hf_hub_download(f.repo, f.filename, cache_dir=tmp_path, endpoint=hub.url, token=False)
    folder = storage(tmp_path, f.repo)
    assert Path(path) == folder / "snapshots" / f.commit / f.filename
    assert Path(path).resolve() == folder / "blobs" / f.sha256
    assert (folder / "refs" / "main").read_text() == f.commit
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == f.sha256
    assert try_to_load_from_cache(f.repo, f.filename, cache_dir=tmp_path) == path
    offline = hf_hub_download(f.repo, f.filename, cache_dir=tmp_path, local_files_only=True)
    assert offline == path
    by_commit = hf_hub_download(
        f.repo, f.filename, revision=f.commit, cache_dir=tmp_path, endpoint=hub.url, token=False
    )
    assert by_commit == path
    assert [(r.method, r.status, r.bytes_sent) for r in hub.requests(f.repo, f.filename)] == [
        ("HEAD", 200, 0),
        ("GET", 200, f.size),
    ]


def test_hf_hub_download_of_a_branch_and_of_a_plain_git_file(hub: LocalHub, tmp_path: Path) -> None:
    repo = fresh()
    v2 = hub.add_file(repo, "w.bin", data=b"second", revision="v2")
    readme = hub.add_file(repo, "docs/README.md", data=b"# hi\n", lfs=False)
    assert v2.commit != readme.commit
    path = hf_hub_download(repo, "w.bin", revision="v2", cache_dir=tmp_path, endpoint=hub.url)
    assert Path(path).read_bytes() == b"second"
    assert (storage(tmp_path, repo) / "refs" / "v2").read_text() == v2.commit
    path = hf_hub_download(repo, readme.filename, cache_dir=tmp_path, endpoint=hub.url)
    # A plain git file is cached under its git blob id, the ETag the Hub sends for it.
    assert Path(path).resolve().name == readme.git_oid == readme.etag
    assert readme.git_oid == hashlib.sha1(b"blob 5\0# hi\n", usedforsecurity=False).hexdigest()


def test_one_part_repo_ids_slashed_revisions_and_unicode_names(
    hub: LocalHub, tmp_path: Path
) -> None:
    repo = fresh_one_part()
    f = hub.add_file(repo, "dir/ünï code.bin", data=b"u", revision="refs/pr/1")
    hub.fault(repo, f.filename, redirect=True)
    path = hf_hub_download(
        repo, f.filename, revision="refs/pr/1", cache_dir=tmp_path, endpoint=hub.url, token=False
    )
    assert Path(path) == storage(tmp_path, repo) / "snapshots" / f.commit / "dir" / "ünï code.bin"
    assert [r.cdn for r in hub.requests(repo, f.filename)] == [False, True]
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo, "nö.bin", revision="refs/pr/1", cache_dir=tmp_path, endpoint=hub.url)


def test_hf_hub_download_of_a_gguf_reads_back(hub: LocalHub, tmp_path: Path) -> None:
    f = hub.add_gguf(
        fresh("tiny-GGUF"),
        "tiny.Q4_K_M.gguf",
        name="Tiny",
        architecture="qwen2",
        context_length=32768,
        chat_template="{% for m in messages %}{{ m.content }}{% endfor %}",
        parameter_count=494_032_768,
        file_type=int(gguf.LlamaFileType.MOSTLY_Q4_K_M),
        pad_to=2 * BLOCK + 5,
    )
    path = hf_hub_download(f.repo, f.filename, cache_dir=tmp_path, endpoint=hub.url, token=False)
    assert Path(path).stat().st_size == f.size == 2 * BLOCK + 5
    reader = gguf.GGUFReader(path)
    fields = {name: field.contents() for name, field in reader.fields.items()}
    assert fields["general.architecture"] == "qwen2"
    assert fields["general.name"] == "Tiny"
    assert fields["qwen2.context_length"] == 32768
    assert fields["tokenizer.chat_template"] == "{% for m in messages %}{{ m.content }}{% endfor %}"
    assert fields["general.parameter_count"] == 494_032_768
    assert fields["general.file_type"] == gguf.LlamaFileType.MOSTLY_Q4_K_M
    [tensor] = reader.tensors
    assert tensor.data_offset + tensor.n_bytes == f.size


def test_gguf_defaults_and_limits(hub: LocalHub, tmp_path: Path) -> None:
    f = hub.add_gguf(fresh(), "m.gguf", chat_template=None)
    target = tmp_path / "m.gguf"
    target.write_bytes(hub.read(f.repo, f.filename))
    reader = gguf.GGUFReader(target)
    fields = {name: field.contents() for name, field in reader.fields.items()}
    assert fields["general.architecture"] == "llama"
    assert fields["general.name"] == "test-model"
    assert fields["llama.context_length"] == 4096
    assert "tokenizer.chat_template" not in fields
    assert "general.parameter_count" not in fields
    assert [t.n_bytes for t in reader.tensors] == [32]
    with pytest.raises(ValueError, match="pad_to"):
        hub.add_gguf(fresh(), "m.gguf", pad_to=100)


def test_gated_files_need_an_accepted_token(hub: LocalHub, tmp_path: Path) -> None:
    f = hub.add_file(fresh("gated"), "w.bin", size=1000, gated=True)
    for token, status in ((False, 401), ("hf_not_accepted", 403)):
        with pytest.raises(GatedRepoError) as refused:
            hf_hub_download(f.repo, f.filename, cache_dir=tmp_path, endpoint=hub.url, token=token)
        assert refused.value.response.status_code == status
    path = hf_hub_download(f.repo, f.filename, cache_dir=tmp_path, endpoint=hub.url, token=TOKEN)
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == f.sha256
    assert [(r.status, r.authorized) for r in hub.requests(f.repo, f.filename)] == [
        (401, False),
        (403, True),
        (200, True),
        (200, True),
    ]


def test_hf_hub_download_follows_a_redirect_to_the_cdn_without_the_token(
    hub: LocalHub, tmp_path: Path
) -> None:
    f = hub.add_file(fresh("gated"), "w.bin", size=BLOCK + 1, seed=3, gated=True)
    hub.fault(f.repo, f.filename, redirect=True)
    path = hf_hub_download(f.repo, f.filename, cache_dir=tmp_path, endpoint=hub.url, token=TOKEN)
    assert Path(path).resolve().name == f.sha256
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == f.sha256
    head, get = hub.requests(f.repo, f.filename)
    assert (head.method, head.status, head.authorized, head.cdn) == ("HEAD", 302, True, False)
    assert (get.method, get.status, get.authorized, get.cdn) == ("GET", 200, False, True)
    assert get.bytes_sent == f.size


def test_missing_repo_revision_and_file(hub: LocalHub, tmp_path: Path) -> None:
    f = hub.add_file(fresh(), "present.bin", data=b"x")
    with pytest.raises(RepositoryNotFoundError) as missing_repo:
        hf_hub_download("acme/nowhere", "x.bin", cache_dir=tmp_path, endpoint=hub.url)
    assert not isinstance(missing_repo.value, GatedRepoError)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(f.repo, f.filename, revision="nope", cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(f.repo, "absent.bin", cache_dir=tmp_path, endpoint=hub.url)
    # The Hub names the commit on a missing entry; huggingface_hub caches the absence under it.
    assert (storage(tmp_path, f.repo) / ".no_exist" / f.commit / "absent.bin").exists()
    assert [r.status for r in hub.requests(f.repo, "absent.bin")] == [404]


def test_api_model_info_tree_and_snapshot_download(hub: LocalHub, tmp_path: Path) -> None:
    repo = fresh()
    gguf_file = hub.add_gguf(repo, "m.Q8_0.gguf")
    config = hub.add_file(repo, "sub/config.json", data=b"{}", lfs=False)
    api = HfApi(endpoint=hub.url, token=False)
    info = api.model_info(repo, files_metadata=True)
    assert info.sha == gguf_file.commit
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert siblings.keys() == {"m.Q8_0.gguf", "sub/config.json"}
    lfs = siblings["m.Q8_0.gguf"].lfs
    assert lfs is not None
    assert (lfs.sha256, lfs.size) == (gguf_file.sha256, gguf_file.size)
    assert siblings["sub/config.json"].lfs is None
    assert api.model_info(repo, revision=gguf_file.commit).sha == gguf_file.commit
    tree = list(api.list_repo_tree(repo, recursive=True))
    assert [item.path for item in tree] == ["m.Q8_0.gguf", "sub", "sub/config.json"]
    assert [item.path for item in api.list_repo_tree(repo)] == ["m.Q8_0.gguf", "sub"]
    assert [item.path for item in api.list_repo_tree(repo, path_in_repo="sub")] == [
        "sub/config.json"
    ]
    assert api.list_repo_files(repo) == ["m.Q8_0.gguf", "sub/config.json"]
    folder = snapshot_download(repo, cache_dir=tmp_path, endpoint=hub.url, token=False)
    assert (Path(folder) / "sub" / "config.json").read_bytes() == hub.read(repo, config.filename)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("acme/nowhere")


# --- HTTP: headers and ranges --------------------------------------------------------------------


def test_headers_and_ranges(hub: LocalHub, client: httpx.Client) -> None:
    f = hub.add_file(fresh(), "w.bin", size=BLOCK + 100, seed=5)
    whole = hub.read(f.repo, f.filename)
    head = client.head(url(hub, f))
    assert head.status_code == 200
    assert head.headers["content-length"] == str(f.size)
    assert head.headers["accept-ranges"] == "bytes"
    assert head.headers["content-type"] == "application/octet-stream"
    assert head.headers["etag"] == head.headers["x-linked-etag"] == f'"{f.sha256}"'
    assert head.headers["x-linked-size"] == str(f.size)
    assert head.headers["x-repo-commit"] == f.commit
    cases = {
        "bytes=10-19": (10, 20),
        f"bytes={BLOCK - 3}-": (BLOCK - 3, f.size),
        "bytes=-7": (f.size - 7, f.size),
        "bytes=0-": (0, f.size),
        "bytes=5-999999999": (5, f.size),
    }
    for header, (start, end) in cases.items():
        response = client.get(url(hub, f), headers={"Range": header})
        assert response.status_code == 206, header
        assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{f.size}"
        assert response.content == whole[start:end]
    for header in (f"bytes={f.size}-", f"bytes={f.size + 5}-{f.size + 9}", "bytes=-0"):
        response = client.get(url(hub, f), headers={"Range": header})
        assert response.status_code == 416, header
        assert response.headers["content-range"] == f"bytes */{f.size}"
    ignored = client.get(url(hub, f), headers={"Range": "items=0-1"})
    assert (ignored.status_code, ignored.content) == (200, whole)
    head_range = client.head(url(hub, f), headers={"Range": "bytes=0-99"})
    assert (head_range.status_code, head_range.headers["content-length"]) == (206, "100")
    records = hub.requests(f.repo, f.filename)
    assert [(r.method, r.range, r.status, r.bytes_sent) for r in records[:3]] == [
        ("HEAD", None, 200, 0),
        ("GET", "bytes=10-19", 206, 10),
        ("GET", f"bytes={BLOCK - 3}-", 206, 103),
    ]
    assert (records[-1].range, records[-1].status, records[-1].bytes_sent) == ("bytes=0-99", 206, 0)
    assert len(records) == 11


def test_generated_content_is_deterministic_and_every_block_differs(hub: LocalHub) -> None:
    a = hub.add_file(fresh(), "a.bin", size=3 * BLOCK, seed=11)
    b = hub.add_file(fresh(), "b.bin", size=3 * BLOCK, seed=11)
    c = hub.add_file(fresh(), "c.bin", size=3 * BLOCK, seed=12)
    assert a.sha256 == b.sha256 != c.sha256
    whole = hub.read(a.repo, a.filename)
    assert hashlib.sha256(whole).hexdigest() == a.sha256
    blocks = {whole[i : i + BLOCK] for i in range(0, len(whole), BLOCK)}
    assert len(blocks) == 3
    assert hub.read(a.repo, a.filename, BLOCK - 10, BLOCK + 10) == whole[BLOCK - 10 : BLOCK + 10]
    literal = hub.add_file(fresh(), "d.bin", data=b"abc")
    assert (literal.size, literal.sha256) == (3, hashlib.sha256(b"abc").hexdigest())
    with pytest.raises(ValueError, match="exactly one"):
        hub.add_file(fresh(), "e.bin", data=b"x", size=1)


# --- serving: from async code, speed, lifecycle --------------------------------------------------


async def test_usable_from_an_async_test(hub: LocalHub) -> None:
    f = hub.add_file(fresh(), "w.bin", size=BLOCK, seed=8)
    async with httpx.AsyncClient() as client:
        responses = await asyncio.gather(*(client.get(url(hub, f)) for _ in range(4)))
    assert {hashlib.sha256(r.content).hexdigest() for r in responses} == {f.sha256}


def test_a_large_file_streams_whole_and_right(hub: LocalHub, client: httpx.Client) -> None:
    """Generated on the fly to the last byte (its speed is measured in bench/downloads.py)."""
    f = hub.add_file(fresh(), "big.bin", size=256 << 20, seed=9)
    total, digest, last = 0, hashlib.sha256(), b""
    with client.stream("GET", url(hub, f)) as response:
        for chunk in response.iter_raw():
            total += len(chunk)
            digest.update(chunk)
            last = chunk
    assert total == f.size
    assert digest.hexdigest() == f.sha256
    assert last == hub.read(f.repo, f.filename, f.size - len(last))


def test_stop_is_quick_with_a_stalled_download_in_flight() -> None:
    hub = LocalHub()
    with pytest.raises(RuntimeError):
        _ = hub.url
    hub.start()
    f = hub.add_file(fresh(), "w.bin", size=BLOCK, seed=10)
    hub.fault(f.repo, f.filename, stall_at=1000, stall_seconds=30)
    base = hub.url
    with httpx.Client(timeout=5) as client:
        with client.stream("GET", url(hub, f)) as response:
            assert response.status_code == 200
            began = time.perf_counter()
            hub.stop()
            assert time.perf_counter() - began < 0.5
            with pytest.raises(httpx.TransportError):
                response.read()
        with pytest.raises(httpx.ConnectError):
            client.get(f"{base}/api/models/{f.repo}")
    hub.stop()  # idempotent
