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
        # The client address feeds the invalid-token throttle: believe X-Forwarded-* only from
        # proxies the operator named (uvicorn's default trusts 127.0.0.1).
        proxy_headers=settings.bodhi_trusted_proxies is not None,
        forwarded_allow_ips=settings.bodhi_trusted_proxies or "",
        timeout_graceful_shutdown=int(settings.bodhi_shutdown_grace_seconds),
        # uvicorn's 5 s default equals the clients' own (httpx, the OpenAI SDK): a connection a
        # client reuses at 4.99 s idle could be closed under its request (the soak saw it).
        timeout_keep_alive=max(1, round(settings.bodhi_keep_alive_seconds)),
    )
    await uvicorn.Server(config).serve()


def main() -> None:
    """Entry point."""
    run("gateway", GatewaySettings, serve)


if __name__ == "__main__":
    main()
