"""Two model-svc replicas on one database and one HF home: a watcher on either follows a
download the other runs, and pulls of one file through both are one download. (A replica that
dies mid-download and is taken over by the other: test_restart.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bodhi.model.v1 import model_pb2 as pb
from bodhi.model.v1.model_pb2_grpc import ModelServiceStub
from bodhi_devstack.hub import LocalHub

from support import as_power_user, finished, serving

MiB = 1024 * 1024


async def pull(models: ModelServiceStub, repo: str, filename: str) -> pb.PullFileResponse:
    request = pb.PullFileRequest(repo=repo, filename=filename)
    return await models.PullFile(request, metadata=as_power_user())


async def progress(models: ModelServiceStub, download_id: str) -> list[tuple[int, int]]:
    """(status, downloaded bytes) of each update a watcher gets, until the download ends."""
    stream = models.WatchDownload(pb.WatchDownloadRequest(id=download_id), metadata=as_power_user())
    return [(r.progress.status, r.progress.downloaded_bytes) async for r in stream]


async def under_way(models: ModelServiceStub, download_id: str) -> None:
    """Wait until the download's first bytes are recorded (a worker holds it)."""
    for _ in range(200):
        got = await models.GetDownload(
            pb.GetDownloadRequest(id=download_id), metadata=as_power_user()
        )
        if got.download.downloaded_bytes > 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the download did not start")


async def test_a_watcher_on_one_replica_follows_a_download_the_other_runs(
    env: dict[str, str], local_hub: LocalHub
) -> None:
    size = 16 * MiB
    local_hub.add_file("acme/slow", "slow.gguf", size=size)
    local_hub.fault("acme/slow", "slow.gguf", throttle=4 * MiB)  # ~4 s
    async with serving(env) as first:
        started = await pull(first, "acme/slow", "slow.gguf")
        await under_way(first, started.download.id)  # the first replica holds it from here
        async with serving(env) as second:
            seen = await asyncio.wait_for(progress(second, started.download.id), timeout=30)
    assert seen[-1] == (pb.DOWNLOAD_STATUS_COMPLETED, size)
    in_between = [b for s, b in seen if s == pb.DOWNLOAD_STATUS_PENDING and 0 < b < size]
    assert len(set(in_between)) >= 2  # progress on the way, not only the end
    assert [b for _, b in seen] == sorted(b for _, b in seen)  # never backwards
    assert len(seen) == len(set(seen))  # no update twice


async def test_pulls_of_one_file_through_two_replicas_are_one_download(
    env: dict[str, str], tmp_path: Path, local_hub: LocalHub
) -> None:
    file = local_hub.add_file("acme/big", "big.gguf", size=8 * MiB)
    local_hub.fault("acme/big", "big.gguf", throttle=8 * MiB)
    async with serving(env) as first, serving(env) as second:
        replies = await asyncio.gather(
            *(pull(models, "acme/big", "big.gguf") for models in (first, second) * 5)
        )
        assert len({r.download.id for r in replies}) == 1
        assert sum(r.created for r in replies) == 1
        done = await finished(second, replies[0].download.id)
    assert done.status == pb.DOWNLOAD_STATUS_COMPLETED, done.error
    served = sum(r.bytes_sent for r in local_hub.requests("acme/big", "big.gguf"))
    assert served == file.size  # fetched once, by one replica
    blob = next((tmp_path / "hf" / "hub" / "models--acme--big" / "blobs").iterdir())
    assert blob.name == file.sha256
