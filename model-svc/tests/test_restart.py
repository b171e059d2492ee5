"""model-svc SIGKILLed in the middle of a file resumes the download where the partial file left
off, after a restart or on another replica: pending downloads are claimed again once the dead
worker's lease lapses."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import grpc

from bodhi.model.v1 import model_pb2 as pb
from bodhi.model.v1 import model_pb2_grpc
from bodhi_common.probe import check
from bodhi_devstack.hub import LocalHub
from bodhi_devstack.hub_files import HubFile
from bodhi_devstack.proc import Child, free_port

from support import as_power_user, finished, service_env

MiB = 1024 * 1024
SIZE = 24 * MiB


def start(env: dict[str, str], log: Path) -> tuple[Child, str]:
    address = f"127.0.0.1:{free_port()}"
    child = Child(
        "model", [sys.executable, "-m", "model_svc"],
        env={**os.environ, **env, "BODHI_GRPC_LISTEN": address}, sink=log.open("a"),
    )  # fmt: skip
    child.start().wait_ready(lambda: check(address, 0.5), 20)
    return child, address


async def test_a_killed_service_resumes_its_download_after_a_restart(
    database_url: str, tmp_path: Path, local_hub: LocalHub
) -> None:
    file = local_hub.add_file("acme/huge", "huge.gguf", size=SIZE)
    local_hub.fault("acme/huge", "huge.gguf", throttle=8 * MiB)  # ~3 s for the whole file
    env = service_env(database_url, tmp_path / "hf", local_hub.url)
    log = tmp_path / "model.log"
    first, address = start(env, log)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = model_pb2_grpc.ModelServiceStub(channel)
        download_id = await pull(stub)
        await reaches(stub, download_id, SIZE // 2)
    first.send_signal(signal.SIGKILL)
    first.stop()
    served_before = sum(r.bytes_sent for r in local_hub.requests("acme/huge", "huge.gguf"))
    local_hub.fault("acme/huge", "huge.gguf")
    second, address = start(env, log)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = model_pb2_grpc.ModelServiceStub(channel)
            done = await finished(stub, download_id, timeout=30)
    finally:
        second.stop()
    assert done.status == pb.DOWNLOAD_STATUS_COMPLETED, done.error
    assert served_before >= SIZE // 3  # it really was killed mid-file
    assert_resumed(local_hub, tmp_path, file)


async def test_a_replica_takes_over_the_download_of_one_that_died(
    database_url: str, tmp_path: Path, local_hub: LocalHub
) -> None:
    """Two replicas on one database and HF home: the one running a download is killed; the
    other, whose watcher followed the download all along, claims it once the dead one's lease
    lapses and completes it from the partial file."""
    file = local_hub.add_file("acme/huge", "huge.gguf", size=SIZE)
    local_hub.fault("acme/huge", "huge.gguf", throttle=4 * MiB)  # ~6 s for the whole file
    env = service_env(database_url, tmp_path / "hf", local_hub.url)
    log = tmp_path / "model.log"
    first, first_address = start(env, log)
    second, second_address = None, ""
    try:
        async with grpc.aio.insecure_channel(first_address) as first_channel:
            a = model_pb2_grpc.ModelServiceStub(first_channel)
            download_id = await pull(a)
            await reaches(a, download_id, 1)  # the first replica holds it from here
            second, second_address = start(env, log)
            async with grpc.aio.insecure_channel(second_address) as channel:
                b = model_pb2_grpc.ModelServiceStub(channel)
                request = pb.WatchDownloadRequest(id=download_id)
                stream = b.WatchDownload(request, metadata=as_power_user())
                seen, served_before = [], 0
                async with asyncio.timeout(60):
                    async for reply in stream:
                        seen.append((reply.progress.status, reply.progress.downloaded_bytes))
                        if first.alive and reply.progress.downloaded_bytes >= SIZE // 2:
                            first.send_signal(signal.SIGKILL)
                            first.stop()
                            served_before = sum(
                                r.bytes_sent for r in local_hub.requests("acme/huge", "huge.gguf")
                            )
                            local_hub.fault("acme/huge", "huge.gguf")
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert seen[-1] == (pb.DOWNLOAD_STATUS_COMPLETED, SIZE)
    assert [b for _, b in seen] == sorted(b for _, b in seen)  # never backwards
    assert served_before >= SIZE // 3  # the first replica really died mid-file
    assert_resumed(local_hub, tmp_path, file)


async def pull(stub: model_pb2_grpc.ModelServiceStub) -> str:
    request = pb.PullFileRequest(repo="acme/huge", filename="huge.gguf")
    return (await stub.PullFile(request, metadata=as_power_user())).download.id


async def reaches(stub: model_pb2_grpc.ModelServiceStub, download_id: str, size: int) -> None:
    """Wait until at least `size` bytes of the download are recorded."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        got = await stub.GetDownload(
            pb.GetDownloadRequest(id=download_id), metadata=as_power_user()
        )
        if got.download.downloaded_bytes >= size:
            return
        await asyncio.sleep(0.1)


def assert_resumed(local_hub: LocalHub, tmp_path: Path, file: HubFile) -> None:
    """The file is in the cache, verified, and little of it was fetched twice."""
    served = sum(r.bytes_sent for r in local_hub.requests("acme/huge", "huge.gguf"))
    refetched = served - SIZE
    assert refetched <= SIZE * 0.05, f"re-fetched {refetched} bytes of {SIZE}"
    blob = next((tmp_path / "hf" / "hub" / "models--acme--huge" / "blobs").iterdir())
    assert blob.name == file.sha256
