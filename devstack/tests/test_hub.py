"""The local Hugging Face Hub (bodhi_devstack.hub) against real clients: huggingface_hub's own
download and API calls, httpx for ranges and every fault mode, gguf's reader for the GGUF files."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gguf
import httpx
import pytest
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

from bodhi_devstack.hub import HubFile, LocalHub
from bodhi_devstack.hub_files import BLOCK

TOKEN = "hf_test_token"
_names = itertools.count()


@pytest.fixture(scope="module")
def hub() -> Iterator[LocalHub]:
    with LocalHub(tokens=[TOKEN]) as started:
        yield started


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def fresh(stem: str = "model") -> str:
    """A repo id no other test uses."""
    return f"acme/{stem}-{next(_names)}"


def url(hub: LocalHub, f: HubFile, revision: str | None = None) -> str:
    return f"{hub.url}/{f.repo}/resolve/{revision or f.revision}/{f.filename}"


def storage(cache: Path, repo: str) -> Path:
    return cache / ("models--" + repo.replace("/", "--"))


def received_until_error(client: httpx.Client, target: str) -> tuple[bytes, Exception]:
    """The body bytes that arrived before the transfer failed, and the failure."""
    data = bytearray()
    try:
        with client.stream("GET", target) as response:
            for chunk in response.iter_raw():
                data += chunk
    except httpx.TransportError as exc:
        return bytes(data), exc
    raise AssertionError(f"no error after {len(data)} bytes")


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
    repo = f"gpt{next(_names)}"
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


# --- fault modes ---------------------------------------------------------------------------------


def test_truncate_cuts_once_then_a_resume_completes(hub: LocalHub, client: httpx.Client) -> None:
    f = hub.add_file(fresh(), "w.bin", size=2 * BLOCK, seed=1)
    cut = BLOCK + 4321
    hub.fault(f.repo, f.filename, truncate_at=cut)
    got, error = received_until_error(client, url(hub, f))
    assert isinstance(error, httpx.RemoteProtocolError)
    assert got == hub.read(f.repo, f.filename, 0, cut)
    rest = client.get(url(hub, f), headers={"Range": f"bytes={len(got)}-"})
    assert rest.status_code == 206
    assert hashlib.sha256(got + rest.content).hexdigest() == f.sha256
    assert client.get(url(hub, f)).content == hub.read(f.repo, f.filename)
    assert [(r.range, r.bytes_sent) for r in hub.requests(f.repo, f.filename)] == [
        (None, cut),
        (f"bytes={cut}-", f.size - cut),
        (None, f.size),
    ]
    hub.fault(f.repo, f.filename, truncate_at=100, times=2)
    for _ in range(2):
        assert len(received_until_error(client, url(hub, f))[0]) == 100
    assert len(client.get(url(hub, f)).content) == f.size


def test_flip_byte_corrupts_every_body_that_covers_it(hub: LocalHub, client: httpx.Client) -> None:
    f = hub.add_file(fresh(), "w.bin", size=BLOCK + 10, seed=2)
    whole = hub.read(f.repo, f.filename)
    hub.fault(f.repo, f.filename, flip_byte=BLOCK + 3)
    for _ in range(2):
        body = client.get(url(hub, f)).content
        assert len(body) == f.size
        assert [i for i in range(len(body)) if body[i] != whole[i]] == [BLOCK + 3]
        assert body[BLOCK + 3] == whole[BLOCK + 3] ^ 0xFF
    tail = client.get(url(hub, f), headers={"Range": f"bytes={BLOCK}-"}).content
    assert tail[3] != whole[BLOCK + 3]
    assert client.get(url(hub, f), headers={"Range": "bytes=0-99"}).content == whole[:100]
    hub.fault(f.repo, f.filename)
    assert client.get(url(hub, f)).content == whole


def test_stall_pauses_once_at_the_offset(hub: LocalHub) -> None:
    f = hub.add_file(fresh(), "w.bin", size=BLOCK, seed=3)
    at = 300_000
    hub.fault(f.repo, f.filename, stall_at=at, stall_seconds=0.4, times=2)
    with httpx.Client(timeout=httpx.Timeout(5, read=0.15)) as impatient:
        got, error = received_until_error(impatient, url(hub, f))
    assert isinstance(error, httpx.ReadTimeout)
    assert len(got) == at
    with httpx.Client(timeout=5) as patient:
        arrivals: list[tuple[int, float]] = []
        with patient.stream("GET", url(hub, f)) as response:
            total = 0
            for chunk in response.iter_raw():
                total += len(chunk)
                arrivals.append((total, time.perf_counter()))
        assert total == f.size
        before = max(t for n, t in arrivals if n <= at)
        after = min(t for n, t in arrivals if n > at)
        assert after - before >= 0.35
        began = time.perf_counter()
        assert len(patient.get(url(hub, f)).content) == f.size  # the budget is spent
        assert time.perf_counter() - began < 0.3
    assert [r.bytes_sent for r in hub.requests(f.repo, f.filename)] == [at, f.size, f.size]


async def test_throttle_paces_each_connection(hub: LocalHub) -> None:
    f = hub.add_file(fresh(), "w.bin", size=2_000_000, seed=4)
    rate = 2_000_000
    hub.fault(f.repo, f.filename, throttle=rate)
    async with httpx.AsyncClient(timeout=10) as client:
        began = time.perf_counter()
        single = await client.get(url(hub, f))
        single_seconds = time.perf_counter() - began
        assert single.content == hub.read(f.repo, f.filename)
        quarter = f.size // 4
        began = time.perf_counter()
        parts = await asyncio.gather(
            *(
                client.get(url(hub, f), headers={"Range": f"bytes={i}-{i + quarter - 1}"})
                for i in range(0, f.size, quarter)
            )
        )
        parallel_seconds = time.perf_counter() - began
    assert b"".join(p.content for p in parts) == single.content
    # The first chunk (~1/20 s worth) leaves at once, the rest at the rate.
    assert 0.8 <= single_seconds <= 2.0
    assert parallel_seconds < single_seconds / 2


def test_status_fault_with_retry_after(hub: LocalHub, client: httpx.Client) -> None:
    f = hub.add_file(fresh(), "w.bin", data=b"payload")
    hub.fault(f.repo, f.filename, status=503, times=2, retry_after=1.5)
    assert client.head(url(hub, f)).status_code == 200  # GETs only, unless head=True
    for _ in range(2):
        refused = client.get(url(hub, f))
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1.5"
    assert client.get(url(hub, f)).content == b"payload"
    hub.fault(f.repo, f.filename, status=429, retry_after=2, head=True)
    limited = client.head(url(hub, f))
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "2")
    assert client.get(url(hub, f)).status_code == 200


def test_redirect_sends_metadata_and_the_cdn_serves_ranges(
    hub: LocalHub, client: httpx.Client
) -> None:
    f = hub.add_file(fresh(), "w.bin", size=5000, seed=6)
    hub.fault(f.repo, f.filename, redirect=True, flip_byte=10)
    head = client.head(url(hub, f))
    assert head.status_code == 302
    location = head.headers["location"]
    assert location.startswith(hub.cdn_url + "/")
    assert head.headers["x-linked-etag"] == f'"{f.sha256}"'
    assert head.headers["x-linked-size"] == str(f.size)
    assert head.headers["x-repo-commit"] == f.commit
    followed = client.get(
        url(hub, f), headers={"Authorization": f"Bearer {TOKEN}"}, follow_redirects=True
    )
    assert followed.status_code == 200
    assert str(followed.url) == location
    assert followed.content[10] != hub.read(f.repo, f.filename)[10]  # other faults apply there
    ranged = client.get(location, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206
    assert ranged.content == hub.read(f.repo, f.filename, 100, 200)
    cdn = [r for r in hub.requests(f.repo, f.filename) if r.cdn]
    assert [(r.status, r.authorized, r.bytes_sent) for r in cdn] == [
        (200, False, f.size),
        (206, False, 100),
    ]


def test_reset_before_headers(hub: LocalHub, client: httpx.Client) -> None:
    f = hub.add_file(fresh(), "w.bin", data=b"payload")
    hub.fault(f.repo, f.filename, reset_before_headers=True, times=2)
    assert client.head(url(hub, f)).status_code == 200
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            client.get(url(hub, f))
    assert client.get(url(hub, f)).content == b"payload"
    assert [(r.method, r.status) for r in hub.requests(f.repo, f.filename)] == [
        ("HEAD", 200),
        ("GET", 0),
        ("GET", 0),
        ("GET", 200),
    ]


def test_fault_arguments_are_checked(hub: LocalHub) -> None:
    f = hub.add_file(fresh(), "w.bin", data=b"x")
    with pytest.raises(KeyError):
        hub.fault(f.repo, "other.bin", truncate_at=1)
    with pytest.raises(TypeError):
        hub.fault(f.repo, f.filename, truncate=1)
    with pytest.raises(ValueError, match="stall_seconds"):
        hub.fault(f.repo, f.filename, stall_at=1)


# --- serving: from async code, speed, lifecycle --------------------------------------------------


async def test_usable_from_an_async_test(hub: LocalHub) -> None:
    f = hub.add_file(fresh(), "w.bin", size=BLOCK, seed=8)
    async with httpx.AsyncClient() as client:
        responses = await asyncio.gather(*(client.get(url(hub, f)) for _ in range(4)))
    assert {hashlib.sha256(r.content).hexdigest() for r in responses} == {f.sha256}


def test_a_1_gib_file_streams_faster_than_300_mb_per_second(
    hub: LocalHub, client: httpx.Client, record_property: Callable[[str, object], None]
) -> None:
    began = time.perf_counter()
    f = hub.add_file(fresh(), "big.bin", size=1 << 30, seed=9)
    added = time.perf_counter() - began
    total, last = 0, b""
    began = time.perf_counter()
    with client.stream("GET", url(hub, f)) as response:
        for chunk in response.iter_raw():
            total += len(chunk)
            last = chunk
    seconds = time.perf_counter() - began
    assert total == f.size
    assert last == hub.read(f.repo, f.filename, f.size - len(last))
    rate = total / seconds / 1e6
    record_property("hub_stream_mb_per_s", round(rate))
    print(f"1 GiB: add_file {added:.2f} s (SHA-256), streamed in {seconds:.2f} s = {rate:.0f} MB/s")
    assert rate > 300


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
