"""`bodhi pull REPO FILE`: start (or join) a download and follow its progress events."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bodhi_cli.commands import Subparsers, command
from bodhi_cli.context import Context
from bodhi_cli.errors import INTERRUPTED, ApiError
from bodhi_cli.gateway import Gateway
from bodhi_cli.progress import TERMINAL, Display, Progress
from bodhi_cli.sse import events

PATH = "/bodhi/v1/modelfiles/pull"


def register(sub: Subparsers) -> None:
    """Add `pull`."""
    parser = command(
        sub, "pull",
        "download a GGUF file into the model cache and show its progress (Ctrl-C stops "
        "watching; the download goes on, and pulling again follows it)",
        pull,
    )  # fmt: skip
    parser.add_argument("repo", metavar="REPO", help="the Hub repo, e.g. owner/name-GGUF")
    parser.add_argument("filename", metavar="FILE", help="the file in the repo")
    parser.add_argument("--revision", default="main", help="branch, tag or commit (main)")


def progress_events(gateway: Gateway, download_id: str) -> Any:
    """Each progress event's data until the download ends or the stream does."""
    with gateway.stream("GET", f"{PATH}/{download_id}/events") as lines:
        for event in events(lines):
            if event.event != "progress":
                continue
            data = json.loads(event.data)
            yield data
            if data.get("status") in TERMINAL:
                return


def follow(ctx: Context, download: dict[str, Any]) -> dict[str, Any]:
    """Show progress until the download ends; its last state."""
    gateway = ctx.gateway()
    display = Display(download["filename"], ctx.out.stderr, ctx.out.is_tty())
    last = download
    try:
        for data in progress_events(gateway, download["id"]):
            last = {**last, **data}
            if not ctx.out.json_mode:
                display.show(Progress.from_json(last))
    finally:
        display.close()
    if last.get("status") not in TERMINAL:  # the stream ended early: ask once
        last = gateway.get(f"{PATH}/{download['id']}")
    return last


def pull(args: argparse.Namespace, ctx: Context) -> int:
    """POST /bodhi/v1/modelfiles/pull, then its events; 0 once completed."""
    body = {"repo": args.repo, "filename": args.filename, "revision": args.revision}
    download = ctx.gateway().call("POST", PATH, json=body)
    try:
        final = follow(ctx, download)
    except KeyboardInterrupt:
        ctx.out.note(
            f"stopped watching; download {download['id']} goes on in the gateway "
            "(run the same `bodhi pull` to follow it again)"
        )
        return INTERRUPTED
    if ctx.out.json_mode:
        ctx.out.json(final)
    if final.get("status") == "completed":
        if not ctx.out.json_mode:
            ctx.out.line(f"pulled {args.repo}/{args.filename}")
        return 0
    message = final.get("error") or f"the download was {final.get('status')}"
    raise ApiError(message, final.get("error_code") or final.get("status"))
