"""`bodhi chat MODEL [PROMPT]`: one user message, the reply streamed as it arrives."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bodhi_cli.commands import Subparsers, command
from bodhi_cli.context import Context
from bodhi_cli.errors import ApiError, usage
from bodhi_cli.sse import data_lines


def register(sub: Subparsers) -> None:
    """Add `chat`."""
    parser = command(sub, "chat", "ask a model; the reply is printed as it streams", chat)
    parser.add_argument("model", metavar="MODEL", help="a name `bodhi models` lists")
    parser.add_argument("prompt", metavar="PROMPT", nargs="?", help="default: read stdin")
    parser.add_argument("--system", help="a system message first")


def messages(args: argparse.Namespace) -> list[dict[str, str]]:
    """The conversation: the optional system message, then the prompt (or stdin)."""
    prompt = args.prompt if args.prompt is not None else sys.stdin.read().rstrip()
    if not prompt.strip():
        raise usage("nothing to ask: give PROMPT or pipe it on stdin")
    system = [{"role": "system", "content": args.system}] if args.system else []
    return [*system, {"role": "user", "content": prompt}]


def delta_text(chunk: dict[str, Any]) -> str:
    """The text a chunk adds (an error chunk raises ApiError)."""
    error = chunk.get("error")
    if isinstance(error, dict):
        raise ApiError(str(error.get("message") or "the stream failed"), error.get("code"))
    choices = chunk.get("choices") or []
    content = (choices[0].get("delta") or {}).get("content") if choices else None
    return content if isinstance(content, str) else ""


def chat(args: argparse.Namespace, ctx: Context) -> int:
    """POST /v1/chat/completions with stream true; tokens to stdout (chunks with --json)."""
    body = {"model": args.model, "stream": True, "messages": messages(args)}
    wrote = False
    try:
        with ctx.gateway().stream("POST", "/v1/chat/completions", json=body) as lines:
            for data in data_lines(lines):
                chunk = json.loads(data)
                if ctx.out.json_mode:
                    ctx.out.json(chunk, compact=True)
                    delta_text(chunk)  # still fail on an error chunk
                    continue
                text = delta_text(chunk)
                wrote = wrote or bool(text)
                ctx.out.write(text)
    finally:
        if wrote:
            ctx.out.write("\n")
    return 0
