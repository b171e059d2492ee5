"""Builders for aiproxy-svc tests: the real servicer with a real secret-svc and model-svc on
fresh databases, a local Hub for model files, a local OpenAI-compatible upstream."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import msgspec

from aiproxy_svc.server import SPEC as AIPROXY
from aiproxy_svc.settings import AiProxySettings
from bodhi.aiproxy.v1 import aiproxy_pb2 as pb
from bodhi.aiproxy.v1 import aiproxy_pb2_grpc
from bodhi.model.v1 import model_pb2_grpc
from bodhi_common.bootstrap import running_service
from bodhi_common.clock import SystemClock
from bodhi_common.config import load
from bodhi_common.context import Principal
from bodhi_common.internal_auth import InternalAuth, Metadata
from model_svc.server import SPEC as MODEL
from model_svc.settings import ModelSettings
from secret_svc.server import SPEC as SECRET
from secret_svc.settings import SecretSettings

KEY = "aiproxy-svc-test-internal-key-0123456789"


class Services(msgspec.Struct, kw_only=True):
    """Stubs of the running services, and aiproxy's environment."""

    aiproxy: aiproxy_pb2_grpc.AiProxyServiceStub
    model: model_pb2_grpc.ModelServiceStub
    env: dict[str, str]


def as_user(role: str = "resource_power_user") -> Metadata:
    """Metadata of a call the gateway makes for a person."""
    principal = Principal(sub="user-1", role=role)
    return InternalAuth(KEY, "gateway", SystemClock()).metadata("aiproxy", principal)


def as_user_to_model() -> Metadata:
    """Metadata of a call the gateway makes to model-svc for a power user."""
    principal = Principal(sub="user-1", role="resource_power_user")
    return InternalAuth(KEY, "gateway", SystemClock()).metadata("model", principal)


def _base(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "BODHI_INTERNAL_KEY": KEY,
        "BODHI_GRPC_LISTEN": "127.0.0.1:0",
    }


@contextlib.asynccontextmanager
async def _serve(spec: Any, settings_type: Any, env: dict[str, str]) -> AsyncIterator[int]:
    async with running_service(spec, load(settings_type, env), SystemClock(), env) as server:
        yield server.port


@contextlib.asynccontextmanager
async def services(
    databases: list[str], hf_home: Path, hub_url: str, **aiproxy_env: str
) -> AsyncIterator[Services]:
    """secret-svc, model-svc and aiproxy-svc, each on its own database and a free port."""
    secret_env = _base(databases[0]) | {
        "BODHI_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()
    }
    async with _serve(SECRET, SecretSettings, secret_env) as secret_port:
        secret_addr = f"127.0.0.1:{secret_port}"
        model_env = _base(databases[1]) | {
            "BODHI_SECRET_ADDR": secret_addr, "HF_HOME": str(hf_home), "HF_ENDPOINT": hub_url,
        }  # fmt: skip
        async with _serve(MODEL, ModelSettings, model_env) as model_port:
            env = _base(databases[2]) | {
                "BODHI_SECRET_ADDR": secret_addr, "BODHI_MODEL_ADDR": f"127.0.0.1:{model_port}",
                "BODHI_UPSTREAM_READ_TIMEOUT_SECONDS": "3", **aiproxy_env,
            }  # fmt: skip
            async with (
                _serve(AIPROXY, AiProxySettings, env) as port,
                grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
                grpc.aio.insecure_channel(f"127.0.0.1:{model_port}") as model_channel,
            ):
                yield Services(
                    aiproxy=aiproxy_pb2_grpc.AiProxyServiceStub(channel),
                    model=model_pb2_grpc.ModelServiceStub(model_channel),
                    env=env,
                )


async def refusal(call: Any) -> tuple[grpc.StatusCode, str]:
    """The status and bodhi-error-code of a call that must fail."""
    try:
        await call
    except grpc.aio.AioRpcError as err:
        return err.code(), dict(err.trailing_metadata() or ())["bodhi-error-code"]
    raise AssertionError("the call succeeded")


def create_request(url: str, **fields: Any) -> pb.CreateApiModelRequest:
    """A valid CreateApiModel request for a provider at `url`, with overrides."""
    values: dict[str, Any] = {
        "api_format": pb.API_FORMAT_OPENAI, "base_url": url, "api_key": "sk-test",
        "models": ["gpt-test"],
    }  # fmt: skip
    return pb.CreateApiModelRequest(**(values | fields))


async def chat(
    stub: aiproxy_pb2_grpc.AiProxyServiceStub, body: dict[str, Any]
) -> tuple[pb.ResponseStart, list[bytes]]:
    """A whole ChatCompletion call: its start and its body chunks."""
    request = pb.ChatCompletionRequest(
        body=msgspec.json.encode(body), model=body["model"], stream=bool(body.get("stream"))
    )
    start, chunks = None, []
    async for part in stub.ChatCompletion(request, metadata=as_user()):
        if part.WhichOneof("part") == "start":
            start = part.start
        else:
            chunks.append(part.body_chunk)
    assert start is not None
    return start, chunks
