"""`python -m gateway`: serve the app with uvicorn (uvloop + httptools)."""

from __future__ import annotations

import uvicorn

from bodhi_common.runner import run
from gateway.app import create_app
from gateway.settings import GatewaySettings


async def serve(settings: GatewaySettings) -> None:
    """Run until SIGTERM/SIGINT; in-flight requests get the grace period."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.bodhi_host,
        port=settings.bodhi_port,
        loop="none",  # runner.run already installed uvloop
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.bodhi_shutdown_grace_seconds),
    )
    await uvicorn.Server(config).serve()


def main() -> None:
    """Entry point."""
    run("gateway", GatewaySettings, serve)


if __name__ == "__main__":
    main()
