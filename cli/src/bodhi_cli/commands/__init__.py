"""The subcommands, one module per noun; each registers its parsers with `register`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeAlias

from bodhi_cli.context import Context

Handler = Callable[[argparse.Namespace, Context], int]
# typeshed's generic; not subscriptable at run time, hence the string
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def json_flag() -> argparse.ArgumentParser:
    """`--json` accepted after any subcommand too (SUPPRESS keeps a top-level --json)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS,
        help="print the raw JSON response (for scripts)",
    )  # fmt: skip
    return parent


def command(sub: Subparsers, name: str, summary: str, handler: Handler) -> argparse.ArgumentParser:
    """A leaf subcommand running `handler`."""
    parser = sub.add_parser(name, help=summary, description=summary, parents=[json_flag()])
    parser.set_defaults(handler=handler)
    return parser


def group(sub: Subparsers, name: str, summary: str) -> Subparsers:
    """A subcommand with subcommands of its own (one of them is required)."""
    parser = sub.add_parser(name, help=summary, description=summary)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")
