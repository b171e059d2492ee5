"""Each service as an operator meets it: `python -m <service>` fails fast with one clear line on
bad configuration, refuses calls without the internal token, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import grpc
import pytest

from bodhi.auth.v1 import auth_pb2, auth_pb2_grpc
from bodhi_common.probe import check as grpc_serving
from bodhi_devstack.components import SERVICES, Component
from bodhi_devstack.proc import free_port

KEY = "process-test-internal-key-0123456789"


def service_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BODHI_", "DATABASE_URL"))}
    return env | {"BODHI_INTERNAL_KEY": KEY, "BODHI_DB_CONNECT_TIMEOUT_SECONDS": "1"} | values


def run_to_exit(component: Component, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", component.module],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("component", SERVICES, ids=lambda c: c.name)
def test_a_bad_database_url_exits_non_zero_with_one_line(component: Component) -> None:
    url = f"postgresql://bodhi:hunter2@127.0.0.1:{free_port()}/nowhere"
    result = run_to_exit(component, service_env(DATABASE_URL=url))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{component.name}-svc: cannot connect to database")
    assert "hunter2" not in result.stderr + result.stdout


def test_a_missing_variable_is_named(database_url: str) -> None:
    result = run_to_exit(SERVICES[0], service_env())
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "secret-svc: configuration error: DATABASE_URL is required but not set"
    )


@pytest.fixture
def auth_process(database_url: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    address = f"127.0.0.1:{free_port()}"
    env = service_env(DATABASE_URL=database_url, BODHI_GRPC_LISTEN=address)
    process = subprocess.Popen(
        [sys.executable, "-m", "auth_svc"], env=env, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 20
    while not grpc_serving(address, timeout=0.5):
        assert process.poll() is None, "auth-svc exited during start-up"
        assert time.monotonic() < deadline, "auth-svc did not start"
        time.sleep(0.1)
    yield process, address
    if process.poll() is None:
        process.kill()
        process.wait()


def test_calls_without_the_internal_token_are_refused(
    auth_process: tuple[subprocess.Popen[str], str],
) -> None:
    _, address = auth_process
    with grpc.insecure_channel(address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetAppInfo(auth_pb2.GetAppInfoRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_sigterm_stops_the_service_cleanly(auth_process: tuple[subprocess.Popen[str], str]) -> None:
    process, _ = auth_process
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert time.monotonic() - started < 5
    output = process.stdout.read() if process.stdout else ""
    assert '"msg":"stopping"' in output
