"""HF_HUB_OFFLINE=1: the cache is served as it is, pulls fail clearly, the Hub is never asked."""

from __future__ import annotations

import grpc

from bodhi.model.v1 import model_pb2 as pb
from bodhi_devstack.hub import LocalHub

from support import as_power_user, finished, refusal, serving


async def test_offline_serves_the_cache_and_refuses_pulls_without_asking_the_hub(
    env: dict[str, str], local_hub: LocalHub
) -> None:
    file = local_hub.add_gguf("acme/tiny-GGUF", "tiny.Q4_0.gguf")
    local_hub.add_gguf("acme/other-GGUF", "other.Q4_0.gguf")
    md = as_power_user()
    async with serving(env) as models:  # online: put one file in the cache
        request = pb.PullFileRequest(repo="acme/tiny-GGUF", filename="tiny.Q4_0.gguf")
        started = await models.PullFile(request, metadata=md)
        assert (await finished(models, started.download.id)).status == (
            pb.DOWNLOAD_STATUS_COMPLETED
        )
    local_hub.clear_requests()

    async with serving(env | {"HF_HUB_OFFLINE": "1"}) as models:
        listed = await models.ListLocalFiles(pb.ListLocalFilesRequest(), metadata=md)
        assert [(f.repo, f.snapshot) for f in listed.local_files] == [
            ("acme/tiny-GGUF", file.commit)
        ]
        resolved = await models.ResolveAlias(
            pb.ResolveAliasRequest(name="acme/tiny-GGUF:Q4_0"), metadata=md
        )
        assert resolved.path.endswith("tiny.Q4_0.gguf")
        request = pb.PullFileRequest(repo="acme/other-GGUF", filename="other.Q4_0.gguf")
        refused = await refusal(models.PullFile(request, metadata=md))
        assert refused == (grpc.StatusCode.FAILED_PRECONDITION, "hub_offline")
    assert local_hub.requests("acme/other-GGUF", "other.Q4_0.gguf") == []
    assert local_hub.requests("acme/tiny-GGUF", "tiny.Q4_0.gguf") == []
