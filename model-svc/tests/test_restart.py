"""model-svc SIGKILLed in the middle of a file and started again resumes the download where the
partial file left off: pending downloads are claimed again once the dead worker's lease lapses."""

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
        request = pb.PullFileRequest(repo="acme/huge", filename="huge.gguf")
        download_id = (await stub.PullFile(request, metadata=as_power_user())).download.id
        deadline = time.monotonic() + 15
        while True:  # wait until about half the file is on disk
            got = await stub.GetDownload(
                pb.GetDownloadRequest(id=download_id), metadata=as_power_user()
            )
            if got.download.downloaded_bytes >= SIZE // 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
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
    served = sum(r.bytes_sent for r in local_hub.requests("acme/huge", "huge.gguf"))
    refetched = served - SIZE
    assert served_before >= SIZE // 3  # it really was killed mid-file
    assert refetched <= SIZE * 0.05, f"re-fetched {refetched} bytes of {SIZE}"
    blob = next((tmp_path / "hf" / "hub" / "models--acme--huge" / "blobs").iterdir())
    assert blob.name == file.sha256
