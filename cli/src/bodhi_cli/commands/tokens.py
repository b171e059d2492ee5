"""`bodhi tokens ...`: the tokens API accepts a browser session only, never an API token (a
stolen token must not mint more), so these commands say so instead of trying."""

from __future__ import annotations

import argparse

from bodhi_cli.commands import Subparsers, command, group
from bodhi_cli.context import Context
from bodhi_cli.errors import usage

ACTIONS = {
    "list": "list your API tokens",
    "create": "create an API token",
    "update": "activate, deactivate or rename an API token",
    "delete": "delete an API token",
}


def register(sub: Subparsers) -> None:
    """Add `tokens` and its subcommands (each explains why it cannot run here)."""
    tokens = group(sub, "tokens", "API tokens (managed from a logged-in browser session only)")
    for name, summary in ACTIONS.items():
        parser = command(tokens, name, f"{summary} (browser session only)", session_only)
        parser.set_defaults(any_arguments=True)  # whatever follows, the answer is the same


def session_only(args: argparse.Namespace, ctx: Context) -> int:
    """Refuse with the reason (a usage error: no retry with this CLI can succeed)."""
    raise usage(
        "API tokens can be managed only from a logged-in browser session (the gateway refuses "
        "API tokens on /bodhi/v1/tokens, so a token cannot mint more): use BodhiApp's UI or "
        f"the tokens API from a session at {ctx.config.url}"
    )
