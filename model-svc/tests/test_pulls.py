"""Pulls through the service: one download per file, progress to watchers, the file placed where
huggingface_hub finds it, clear errors for what cannot be pulled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from huggingface_hub import hf_hub_download

from bodhi.model.v1 import model_pb2 as pb
from bodhi.model.v1.model_pb2_grpc import ModelServiceStub
from bodhi_devstack.hub import LocalHub

from support import as_power_user, finished, refusal

MiB = 1024 * 1024


async def pull(models: ModelServiceStub, repo: str, filename: str) -> pb.PullFileResponse:
    request = pb.PullFileRequest(repo=repo, filename=filename)
    return await models.PullFile(request, metadata=as_power_user())


async def test_a_pull_lands_where_huggingface_hub_finds_it(
    models: ModelServiceStub, local_hub: LocalHub, env: dict[str, str]
) -> None:
    file = local_hub.add_gguf("acme/tiny-GGUF", "tiny.Q4_K_M.gguf", pad_to=3 * MiB)
    started = await pull(models, "acme/tiny-GGUF", "tiny.Q4_K_M.gguf")
    assert started.created
    assert started.download.status == pb.DOWNLOAD_STATUS_PENDING
    done = await finished(models, started.download.id)
    assert done.status == pb.DOWNLOAD_STATUS_COMPLETED, done.error
    assert done.downloaded_bytes == done.total_bytes == file.size
    path = hf_hub_download(
        "acme/tiny-GGUF", "tiny.Q4_K_M.gguf", cache_dir=Path(env["HF_HOME"]) / "hub",
        local_files_only=True,
    )  # fmt: skip
    assert Path(path).stat().st_size == file.size
    listed = await models.ListLocalFiles(pb.ListLocalFilesRequest(), metadata=as_power_user())
    assert [(f.repo, f.filename, f.snapshot) for f in listed.local_files] == [
        ("acme/tiny-GGUF", "tiny.Q4_K_M.gguf", file.commit)
    ]
    again = await refusal(pull(models, "acme/tiny-GGUF", "tiny.Q4_K_M.gguf"))
    assert again == (grpc.StatusCode.FAILED_PRECONDITION, "file_already_exists")


async def test_concurrent_pulls_of_one_file_are_one_download(
    models: ModelServiceStub, local_hub: LocalHub
) -> None:
    local_hub.add_file("acme/big", "big.gguf", size=8 * MiB)
    local_hub.fault("acme/big", "big.gguf", throttle=8 * MiB)
    replies = await asyncio.gather(*(pull(models, "acme/big", "big.gguf") for _ in range(10)))
    assert len({r.download.id for r in replies}) == 1
    assert sum(r.created for r in replies) == 1
    done = await finished(models, replies[0].download.id)
    assert done.status == pb.DOWNLOAD_STATUS_COMPLETED


async def test_watchers_see_progress_as_it_happens(
    models: ModelServiceStub, local_hub: LocalHub
) -> None:
    local_hub.add_file("acme/slow", "slow.gguf", size=6 * MiB)
    local_hub.fault("acme/slow", "slow.gguf", throttle=4 * MiB)
    started = await pull(models, "acme/slow", "slow.gguf")
    seen = []
    stream = models.WatchDownload(
        pb.WatchDownloadRequest(id=started.download.id), metadata=as_power_user()
    )
    async for reply in stream:
        seen.append((reply.progress.status, reply.progress.downloaded_bytes))
    assert seen[-1] == (pb.DOWNLOAD_STATUS_COMPLETED, 6 * MiB)
    in_between = {b for s, b in seen if s == pb.DOWNLOAD_STATUS_PENDING and 0 < b < 6 * MiB}
    assert len(in_between) >= 3  # at least a few distinct progress points on the way


async def test_a_failed_download_can_be_pulled_again(
    models: ModelServiceStub, local_hub: LocalHub
) -> None:
    local_hub.add_file("acme/flaky", "flaky.gguf", size=2 * MiB)
    local_hub.fault("acme/flaky", "flaky.gguf", flip_byte=1000)
    first = await pull(models, "acme/flaky", "flaky.gguf")
    failed = await finished(models, first.download.id)
    assert (failed.status, failed.error_code) == (pb.DOWNLOAD_STATUS_ERROR, "hub_checksum_mismatch")
    local_hub.fault("acme/flaky", "flaky.gguf")  # the Hub is fixed
    second = await pull(models, "acme/flaky", "flaky.gguf")
    assert second.created
    assert (await finished(models, second.download.id)).status == pb.DOWNLOAD_STATUS_COMPLETED


async def test_gated_and_missing_files_fail_with_their_codes(
    models: ModelServiceStub, local_hub: LocalHub
) -> None:
    local_hub.add_file("acme/gated", "gated.gguf", size=MiB, gated=True)
    local_hub.add_file("acme/present", "other.gguf", size=MiB)
    cases = [
        ("acme/gated", "gated.gguf", "hub_gated_access"),
        ("acme/absent", "x.gguf", "hub_repo_not_found"),
        ("acme/present", "missing.gguf", "hub_file_not_found"),
    ]
    for repo, filename, code in cases:
        started = await pull(models, repo, filename)
        done = await finished(models, started.download.id)
        assert (done.status, done.error_code) == (pb.DOWNLOAD_STATUS_ERROR, code), repo


async def test_paths_that_leave_the_cache_are_refused(models: ModelServiceStub) -> None:
    for repo, filename, code in [
        ("acme/x", "../../etc/passwd", "invalid_filename"),
        ("acme/x", "/etc/passwd", "invalid_filename"),
        ("acme/x", "a\\\\b.gguf", "invalid_filename"),
        ("no-slash", "x.gguf", "invalid_repo"),
        ("acme/..", "x.gguf", "invalid_repo"),
    ]:
        assert await refusal(pull(models, repo, filename)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            code,
        ), (repo, filename)
        ref = pb.FileRef(repo=repo, filename=filename)
        for call in (
            models.GetModelMetadata(pb.GetModelMetadataRequest(file=ref), metadata=as_power_user()),
            models.DeleteLocalFile(pb.DeleteLocalFileRequest(file=ref), metadata=as_power_user()),
        ):
            assert await refusal(call) == (grpc.StatusCode.INVALID_ARGUMENT, code), call
    escaping = pb.FileRef(repo="acme/x", filename="x.gguf", snapshot="../../../etc")
    reading = models.GetModelMetadata(
        pb.GetModelMetadataRequest(file=escaping), metadata=as_power_user()
    )
    assert await refusal(reading) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_revision")


async def test_cancel_keeps_the_partial_for_a_later_pull(
    models: ModelServiceStub, local_hub: LocalHub
) -> None:
    local_hub.add_file("acme/cancel", "c.gguf", size=8 * MiB)
    local_hub.fault("acme/cancel", "c.gguf", throttle=2 * MiB)
    started = await pull(models, "acme/cancel", "c.gguf")
    await asyncio.sleep(1.5)
    cancel = pb.CancelDownloadRequest(id=started.download.id)
    cancelled = (await models.CancelDownload(cancel, metadata=as_power_user())).download
    assert cancelled.status == pb.DOWNLOAD_STATUS_CANCELLED
    assert await refusal(models.CancelDownload(cancel, metadata=as_power_user())) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "download_not_pending",
    )
    local_hub.fault("acme/cancel", "c.gguf")
    local_hub.clear_requests()
    resumed = await pull(models, "acme/cancel", "c.gguf")
    assert (await finished(models, resumed.download.id)).status == pb.DOWNLOAD_STATUS_COMPLETED
    fetched = sum(r.bytes_sent for r in local_hub.requests("acme/cancel", "c.gguf"))
    assert fetched < 8 * MiB  # it resumed from what the cancelled download had written
