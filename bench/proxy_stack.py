"""The processes of the proxy benchmark (proxy.py): the local upstream in a process of its own,
the whole stack (started by identity_stack.launch) set up with an admin, an API token and the API
models, LiteLLM's proxy in an
isolated venv, and what each process costs (CPU seconds and RSS from /proc)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from identity_http import cpu_seconds
from identity_stack import TOKEN_SCOPE

from bodhi_devstack.proc import free_port
from bodhi_devstack.stack import HOST, Stack
from bodhi_devstack.upstream import Behaviour, LocalUpstream
from bodhi_e2e.client import BodhiClient

ROOT = Path(__file__).resolve().parent.parent
LITELLM_VERSION = "1.108.0"  # the newest 1.x whose [proxy] extra resolves here (see proxy.md)
LITELLM_DIR = ROOT / ".data" / "bench" / "litellm"  # .data/ is git-ignored
UPSTREAM_KEY = "sk-bench"
# Sent to LiteLLM like the gateway's API token; LiteLLM runs without a master key (its fastest
# setting: with one set, this version spends about twice the CPU per request; see proxy.md).
LITELLM_KEY = "sk-bench-" + "0123456789abcdef" * 4
# Every model the peers route: a whole answer, 20 paced chunks, 100 paced chunks.
BEHAVIOURS = {
    "gpt-bench": Behaviour(),
    "gpt-stream": Behaviour(chunks=20, chunk_delay=0.005),
    "gpt-long": Behaviour(chunks=100, chunk_delay=0.01),
}
STALL_MODEL = "gpt-stall"  # on the recording upstream: 2 content events, then silence
STALL = Behaviour(chunks=20, stall_after=2)


# --- the upstream, in a process of its own -----------------------------------------------------


def upstream_process() -> None:
    """Child mode: serve the benchmark's models without recording, print the URL, wait."""
    with LocalUpstream(api_key=UPSTREAM_KEY, models=list(BEHAVIOURS), record=False) as up:
        for model, behaviour in BEHAVIOURS.items():
            up.behave(model, behaviour)
        print(up.url, flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


@contextlib.contextmanager
def upstream(script: str) -> Iterator[tuple[str, int]]:
    """The upstream in its own process (its own GIL and core time): (base URL, pid)."""
    args = [sys.executable, script, "--upstream"]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip(), child.pid
    finally:
        child.terminate()
        child.wait(10)


def recorder() -> LocalUpstream:
    """A recording upstream in this process, for the disconnect check only (not timed)."""
    up = LocalUpstream(api_key=UPSTREAM_KEY, models=[STALL_MODEL], record=True)
    up.behave(STALL_MODEL, STALL)
    return up


# --- the stack ----------------------------------------------------------------------------------


def prepare(stack: Stack, upstream_url: str, recorder_url: str) -> str:
    """Set up the app, log in the admin, register the two upstreams as API models; an API token."""
    with BodhiClient(stack.gateway_url) as admin:
        response = admin.setup("Proxy benchmark server")
        if response.status_code != 200:
            raise RuntimeError(f"setup: {response.status_code} {response.text}")
        admin.login_as("admin")
        for url, models in ((upstream_url, list(BEHAVIOURS)), (recorder_url, [STALL_MODEL])):
            body = {"api_format": "openai", "base_url": url, "api_key": UPSTREAM_KEY,
                    "models": models, "prefix": None}  # fmt: skip
            created = admin.http.post("/bodhi/v1/api-models", json=body)
            if created.status_code != 201:
                raise RuntimeError(f"api-models: {created.status_code} {created.text}")
        return admin.create_token(TOKEN_SCOPE, "proxy-bench")


# --- LiteLLM --------------------------------------------------------------------------------


def _uv() -> str:
    return shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")


def install_litellm() -> str | None:
    """litellm[proxy]==LITELLM_VERSION in its own venv; None when ready, else why not."""
    python = LITELLM_DIR / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True, check=False)  # noqa: S603
        if found.stdout.strip() == LITELLM_VERSION:
            return None
    steps = (
        [_uv(), "venv", "-q", "--clear", "--python", sys.executable, str(LITELLM_DIR)],
        [_uv(), "pip", "install", "-q", "--python", str(python),
         f"litellm[proxy]=={LITELLM_VERSION}"],
    )  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            return f"`{' '.join(step[:3])}` failed: {done.stderr.strip()[-400:]}"
    return None


def litellm_config(path: Path, upstream_url: str, recorder_url: str) -> None:
    lines = ["model_list:"]
    routes = [(m, upstream_url) for m in BEHAVIOURS] + [(STALL_MODEL, recorder_url)]
    for model, url in routes:
        lines += [
            f"  - model_name: {model}",
            "    litellm_params:",
            f"      model: openai/{model}",
            f"      api_base: {url}",
            f"      api_key: {UPSTREAM_KEY}",
        ]
    path.write_text("\n".join(lines) + "\n")


@dataclass
class LiteLLM:
    """A started LiteLLM proxy (or why there is none)."""

    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    missing: str | None = None
    startup_s: float = 0.0
    _started: float = 0.0
    _log: Path | None = None

    def start(self, work: Path, upstream_url: str, recorder_url: str) -> None:
        """Spawn it (no database, 1 worker, defaults otherwise); `ready` waits for it."""
        litellm_config(work / "litellm.yaml", upstream_url, recorder_url)
        self.port = free_port()
        argv = [str(LITELLM_DIR / "bin" / "litellm"), "--config", str(work / "litellm.yaml"),
                "--host", HOST, "--port", str(self.port), "--num_workers", "1"]  # fmt: skip
        # The bundled model price list instead of fetching one: this bench talks to no one.
        env = os.environ | {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",  # no master key
        }
        with (work / "litellm.log").open("wb") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our venv's entry point
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self._started = time.monotonic()
        self._log = work / "litellm.log"

    def ready(self, timeout: float = 150.0) -> None:
        assert self.proc is not None
        assert self._log is not None
        url = f"http://{HOST}:{self.port}/health/liveliness"
        deadline = self._started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self._log.read_text(errors="replace").strip().splitlines()[-5:]
                self.missing = f"exited with {self.proc.returncode}: {' / '.join(tail)}"
                return
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    self.startup_s = round(time.monotonic() - self._started, 1)
                    return
            time.sleep(0.5)
        self.missing = f"not ready within {timeout:.0f} s"
        self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    @property
    def pids(self) -> list[int]:
        return [] if self.proc is None or self.missing else tree(self.proc.pid)


# --- what processes cost ------------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """A process and its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in task.read_text().split()]
    return found


def cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)
