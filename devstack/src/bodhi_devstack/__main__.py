"""`python -m bodhi_devstack run`: the whole system on this machine (what `make run` does).

With DATABASE_URL (a PostgreSQL server URL whose user may create databases), REDIS_URL or
BODHI_OIDC_ISSUER set, those are used; otherwise embedded PostgreSQL and Redis and a
development OIDC provider run with their data under BODHI_DATA_DIR (default .data/).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from bodhi_common.config import mask_url
from bodhi_devstack.components import GATEWAY, SERVICES
from bodhi_devstack.proc import StartupError
from bodhi_devstack.stack import Stack, StackPlan


def plan_from_env(env: dict[str, str]) -> StackPlan:
    """The plan for `make run`: fixed local ports, servers from the environment when set."""
    return StackPlan(
        data_dir=Path(env.get("BODHI_DATA_DIR", ".data")).absolute(),
        gateway_port=int(env.get("BODHI_PORT", GATEWAY.port)),
        postgres_url=env.get("DATABASE_URL") or None,
        redis_url=env.get("REDIS_URL") or None,
        oidc_issuer=env.get("BODHI_OIDC_ISSUER") or None,
        postgres_port=int(env.get("BODHI_DEV_PG_PORT", "54329")),
        redis_port=int(env.get("BODHI_DEV_REDIS_PORT", "63799")),
        oidc_port=int(env.get("BODHI_DEV_OIDC_PORT", "8091")),
        log_level=env.get("BODHI_LOG_LEVEL", "info"),
        # An existing Hugging Face cache is used (and its GGUF files listed) when HF_HOME is set.
        hf_home=Path(env["HF_HOME"]) if env.get("HF_HOME") else None,
    )


def summary(stack: Stack, seconds: float) -> str:
    """What runs where, for the person who typed `make run`."""
    plan = stack.plan
    lines = [
        f"Bodhi is ready in {seconds:.1f}s: {stack.gateway_url}  (Ctrl-C stops everything)",
        f"  API docs      {stack.gateway_url}/swagger-ui",
        f"  PostgreSQL    {mask_url(stack.postgres_url)}",
        f"  Redis         {mask_url(stack.redis_url)}",
        f"  OIDC issuer   {stack.oidc_issuer}",
    ]
    lines += [f"  {c.name + '-svc':<13} 127.0.0.1:{plan.service_ports[c.name]}" for c in SERVICES]
    lines.append(f"  data          {plan.data_dir}")
    return "\n".join(lines)


def run() -> int:
    """Start the stack, wait for Ctrl-C or a crashed child, stop everything."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stack = Stack(plan_from_env(dict(os.environ)))
    started = time.monotonic()
    try:
        stack.start()
    except StartupError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    print(summary(stack, time.monotonic() - started), flush=True)
    status = 0
    while not stop.wait(0.5):
        dead = [name for name, child in stack.children.items() if not child.alive]
        if dead:
            print(f"make run: {', '.join(dead)} stopped unexpectedly; stopping", file=sys.stderr)
            status = 1
            break
    print("stopping…", flush=True)
    stack.stop()
    return status


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bodhi_devstack")
    parser.add_argument("command", choices=["run"], help="run: start the whole system")
    parser.parse_args()
    sys.exit(run())


if __name__ == "__main__":
    main()
