"""Start-up time (PERFORMANCE.md P10): the whole stack launched the way `make run` does it
(`python -m bodhi_devstack run`: embedded PostgreSQL and Redis, the development OIDC provider,
every service and the gateway), from the launch until the gateway's `/ready` answers 200.

Launched by this script in child mode: the same plan and Stack as `make run`, with free ports
(see child_mode) and a data directory of its own, so a running `make run` is not disturbed. The
first run makes the data directory (initdb, migrations) and is reported but not counted; the
timed runs reuse it, as every `make run` after the first does. Baseline in the same run: the
time this Python takes to start and import bodhi_devstack (the floor of any launch).

    uv run python bench/startup.py [--runs 3]

Writes bench/results/startup.md and .json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchkit import cpu_model, write_results

from bodhi_devstack.__main__ import plan_from_env
from bodhi_devstack.components import SERVICES
from bodhi_devstack.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
OVERRIDDEN = ("DATABASE_URL", "REDIS_URL", "BODHI_OIDC_ISSUER", "HF_HOME")


def free_port() -> int:
    """A free port below the kernel's ephemeral range: a port taken from that range can be given
    to an outgoing connection (to PostgreSQL, Redis...) before its server binds it."""
    while True:
        port = random.randint(20000, 32000)  # noqa: S311 - not a secret
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def child_mode() -> None:
    """What `python -m bodhi_devstack run` does (plan_from_env, Stack.start, wait for a signal,
    Stack.stop), except that every service's gRPC and metrics port is a free one: `make run`'s
    fixed ports may be taken on a shared box, and free ports handed to this run may collide
    with them."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    plan = plan_from_env(dict(os.environ))
    plan.service_ports = {c.name: free_port() for c in SERVICES}
    plan.metrics_ports = {c.name: free_port() for c in SERVICES}
    stack = Stack(plan)
    try:
        stack.start()
        stop.wait()
    finally:
        stack.stop()


def ready(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310
        return bool(answer.status == 200)
    return False


def one_run(data_dir: Path, timeout: float) -> dict[str, Any]:
    """Launch, time until /ready = 200, stop (SIGINT, as Ctrl-C); seconds to ready and to stop."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDDEN} | {
        "BODHI_DATA_DIR": str(data_dir),
        "BODHI_PORT": str(port),
        "BODHI_DEV_PG_PORT": str(free_port()),
        "BODHI_DEV_REDIS_PORT": str(free_port()),
        "BODHI_DEV_OIDC_PORT": str(free_port()),
        "BODHI_LOG_LEVEL": "warn",
    }
    url = f"http://127.0.0.1:{port}/ready"
    log = data_dir.parent / "startup.log"
    with log.open("ab") as sink:
        started = time.monotonic()
        child = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, __file__, "--child"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        while not ready(url):
            if child.poll() is not None:
                tail = log.read_text(errors="replace").splitlines()[-10:]
                raise RuntimeError(f"the stack exited with {child.returncode}: {tail}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"not ready within {timeout:.0f} s")
            time.sleep(0.02)
        ready_s = time.monotonic() - started
    finally:
        stopping = time.monotonic()
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(10)
    return {"ready_s": round(ready_s, 2), "stop_s": round(time.monotonic() - stopping, 2)}


def retried(data_dir: Path, timeout: float) -> dict[str, Any]:
    """One run; once more if it failed (a port taken meanwhile by another process on the box)."""
    try:
        return one_run(data_dir, timeout)
    except RuntimeError as err:
        sys.stderr.write(f"startup: a run failed, retrying once: {str(err)[-300:]}\n")
        return one_run(data_dir, timeout) | {"retried": True}


def python_floor() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import bodhi_devstack.stack"], check=True)
    return round(time.monotonic() - started, 2)


def report(result: dict[str, Any]) -> str:
    runs = ", ".join(f"{r['ready_s']} s" for r in result["runs"])
    median = result["median_ready_s"]
    return (
        "\n".join(
            [
                "# Start-up time (P10)",
                "",
                f"{result['machine']['cpu']}, {result['machine']['cores']} cores, Python "
                f"{platform.python_version()}. The stack of `python -m bodhi_devstack run` (what "
                "`make run` starts; free service ports) on embedded defaults, from the launch "
                "to gateway `/ready` = 200.",
                "",
                "| run | launch to ready s | stop s |",
                "|---|---|---|",
                f"| first (makes the data dir; not counted) | {result['first_run']['ready_s']} | "
                f"{result['first_run']['stop_s']} |",
                *(
                    f"| {i} | {r['ready_s']} | {r['stop_s']} |"
                    for i, r in enumerate(result["runs"], 1)
                ),
                "",
                f"Timed runs: {runs}; median **{median} s** (target <= 10 s: "
                f"{'met' if median <= 10 else 'missed'}). Baseline: starting Python and importing "
                f"bodhi_devstack takes {result['python_import_floor_s']} s.",
            ]
        )
        + "\n"
    )


def main() -> None:
    if sys.argv[1:] == ["--child"]:
        child_mode()
        return
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--runs", type=int, default=3)
    cli.add_argument("--timeout", type=float, default=120.0)
    cli.add_argument("--name", default="startup", help="results file name (bench/results/<name>)")
    args = cli.parse_args()
    with tempfile.TemporaryDirectory(prefix="bodhi-bench-startup-") as tmp:
        data_dir = Path(tmp) / "data"
        first = retried(data_dir, args.timeout * 3)
        runs = [retried(data_dir, args.timeout) for _ in range(args.runs)]
    floor = python_floor()
    result = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "settings": {"runs": args.runs},
        "first_run": first,
        "runs": runs,
        "median_ready_s": round(statistics.median(r["ready_s"] for r in runs), 2),
        "python_import_floor_s": floor,
    }
    write_results(args.name, report(result), result)


if __name__ == "__main__":
    main()
