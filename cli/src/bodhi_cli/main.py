"""The `bodhi` command: parse, run one subcommand, turn failures into one line and an exit
code (1 the gateway said no, 2 usage, 3 unreachable, 130 Ctrl-C)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from bodhi_cli import config
from bodhi_cli.commands import api_models, chat, login, models, pull, tokens
from bodhi_cli.context import Context
from bodhi_cli.errors import INTERRUPTED, CliError
from bodhi_cli.output import Output

EPILOG = """\
environment: BODHI_URL (default http://127.0.0.1:1135), BODHI_TOKEN (an API token),
BODHI_CONFIG (default ~/.config/bodhi/config.toml, written by `bodhi login`).
exit codes: 0 done, 1 the gateway answered with an error, 2 usage, 3 gateway unreachable,
130 interrupted."""

BROKEN_PIPE = 141  # 128 + SIGPIPE, as when `bodhi models | head` closes early


def parser() -> argparse.ArgumentParser:
    """The whole command line."""
    top = argparse.ArgumentParser(
        prog="bodhi", description="Bodhi's gateway from the command line.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    top.add_argument("--json", action="store_true", help="print the raw JSON response")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (login, models, pull, api_models, chat, tokens):
        module.register(sub)
    return top


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The arguments (argparse exits 2 with its usage line on a usage error)."""
    top = parser()
    args, extra = top.parse_known_args(argv)
    if extra and not getattr(args, "any_arguments", False):
        top.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def run(argv: Sequence[str], env: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> int:
    """Run one command line; its exit code."""
    try:
        args = parse(argv)
        out = Output(json_mode=args.json, stdout=stdout, stderr=stderr)
        ctx = Context(config=config.load(env), out=out, env=env)
    except CliError as err:
        stderr.write(f"bodhi: {err.message}\n")
        return err.exit_code
    try:
        code: int = args.handler(args, ctx)
        return code
    except CliError as err:
        stdout.flush()
        stderr.write(f"bodhi: {err.message}\n")
        return err.exit_code
    except KeyboardInterrupt:
        stderr.write("\nbodhi: interrupted\n")
        return INTERRUPTED
    finally:
        ctx.close()


def main() -> int:
    """The console script."""
    try:
        return run(sys.argv[1:], os.environ, sys.stdout, sys.stderr)
    except BrokenPipeError:
        # stdout's reader left: point stdout at /dev/null so the final flush does not fail too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
