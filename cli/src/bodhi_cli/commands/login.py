"""`bodhi login --token X [--url U]`: remember the gateway and the API token in the config
file (owner-only), so later commands need no environment."""

from __future__ import annotations

import argparse
import getpass
import sys

from bodhi_cli.commands import Subparsers, command
from bodhi_cli.config import save
from bodhi_cli.context import Context
from bodhi_cli.errors import usage


def register(sub: Subparsers) -> None:
    """Add `login`."""
    parser = command(sub, "login", "save the gateway URL and an API token", login)
    parser.add_argument("--token", help="an API token (bodhiapp_...); prompted when omitted")
    parser.add_argument("--url", help="the gateway (default: BODHI_URL or the current one)")


def login(args: argparse.Namespace, ctx: Context) -> int:
    """Write url and token to the config file with mode 0600."""
    token = args.token
    if not token and sys.stdin.isatty():
        token = getpass.getpass("API token: ")
    if not token:
        raise usage("give the API token with --token (or type it at the prompt)")
    url = (args.url or ctx.config.url).rstrip("/")
    save(ctx.config.path, url, token.strip())
    if ctx.out.json_mode:
        ctx.out.json({"url": url, "config": str(ctx.config.path)})
    else:
        ctx.out.line(f"saved the token for {url} in {ctx.config.path}")
    return 0
