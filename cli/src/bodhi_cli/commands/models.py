"""`bodhi models` and `bodhi alias create|update|delete` (/bodhi/v1/models)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any
from urllib.parse import quote

from bodhi_cli.commands import Subparsers, command, group
from bodhi_cli.context import Context
from bodhi_cli.errors import usage

PATH = "/bodhi/v1/models"
# The alias request parameters (gateway AliasBody.request_params) and how to read each.
PARAMS: dict[str, type] = {
    "frequency_penalty": float, "max_tokens": int, "presence_penalty": float, "seed": int,
    "temperature": float, "top_p": float, "stop": str, "user": str,
}  # fmt: skip


def register(sub: Subparsers) -> None:
    """Add `models` and `alias`."""
    command(sub, "models", "list the models: user aliases, cached files, API models", list_models)
    alias = group(sub, "alias", "create, update or delete a user alias of a cached file")
    create = command(alias, "create", "create a user alias", create_alias)
    update = command(alias, "update", "replace a user alias (omitted settings are cleared)", put)
    for parser in (create, update):
        _alias_arguments(parser)
    delete = command(alias, "delete", "delete a user alias (the file stays cached)", delete_alias)
    delete.add_argument("name", metavar="NAME")


def _alias_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the alias, e.g. llama3:instruct")
    parser.add_argument("repo", metavar="REPO", help="the Hub repo, e.g. owner/name-GGUF")
    parser.add_argument("filename", metavar="FILE", help="the GGUF file in the repo")
    parser.add_argument("--snapshot", help="the snapshot (commit); default: the one main is at")
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help=f"a request default, repeatable ({', '.join(PARAMS)}; stop may repeat)",
    )  # fmt: skip
    parser.add_argument(
        "--context-params", metavar="ARGS", default=None,
        help='llama-server arguments, quoted, e.g. --context-params="--ctx-size 4096"',
    )  # fmt: skip


def request_params(pairs: list[str]) -> dict[str, Any]:
    """`--param k=v` values as the alias's request_params (stop collects a list)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in PARAMS:
            raise usage(f"--param wants KEY=VALUE with KEY one of {', '.join(PARAMS)}: {pair!r}")
        try:
            value = PARAMS[key](raw)
        except ValueError:
            raise usage(f"--param {key} wants a {PARAMS[key].__name__}: {raw!r}") from None
        if key == "stop":
            params.setdefault("stop", []).append(value)
        else:
            params[key] = value
    return params


def alias_body(args: argparse.Namespace) -> dict[str, Any]:
    """The AliasBody of `alias create/update` arguments."""
    body: dict[str, Any] = {"repo": args.repo, "filename": args.filename}
    if args.snapshot:
        body["snapshot"] = args.snapshot
    if args.param:
        body["request_params"] = request_params(args.param)
    if args.context_params is not None:
        body["context_params"] = shlex.split(args.context_params)
    return body


def alias_path(name: str) -> str:
    """/bodhi/v1/models/{alias} (a colon stays as it is, as aliases are written)."""
    return f"{PATH}/{quote(name, safe=':')}"


def _row(alias: dict[str, Any]) -> list[str]:
    if alias.get("source") == "api":
        prefix = alias.get("prefix") or ""
        models = ", ".join(prefix + model for model in alias.get("models", []))
        return [alias["id"], "api", alias.get("base_url", ""), models]
    return [alias["alias"], alias.get("source", ""), alias.get("repo", ""), alias["filename"]]


def list_models(args: argparse.Namespace, ctx: Context) -> int:
    """GET /bodhi/v1/models, every page."""
    items = ctx.gateway().pages(PATH)
    if ctx.out.json_mode:
        ctx.out.json({"data": items, "total": len(items)})
    else:
        ctx.out.table(
            ["NAME", "SOURCE", "REPO / BASE URL", "FILE / MODELS"], [_row(a) for a in items]
        )
    return 0


def _show(ctx: Context, alias: dict[str, Any], verb: str) -> None:
    if ctx.out.json_mode:
        ctx.out.json(alias)
    else:
        ctx.out.line(f"{verb} {alias['alias']} → {alias['repo']}/{alias['filename']}")


def create_alias(args: argparse.Namespace, ctx: Context) -> int:
    """POST /bodhi/v1/models."""
    body = {"alias": args.name, **alias_body(args)}
    _show(ctx, ctx.gateway().call("POST", PATH, json=body), "created")
    return 0


def put(args: argparse.Namespace, ctx: Context) -> int:
    """PUT /bodhi/v1/models/{alias}."""
    _show(ctx, ctx.gateway().call("PUT", alias_path(args.name), json=alias_body(args)), "updated")
    return 0


def delete_alias(args: argparse.Namespace, ctx: Context) -> int:
    """DELETE /bodhi/v1/models/{alias}."""
    ctx.gateway().call("DELETE", alias_path(args.name))
    if ctx.out.json_mode:
        ctx.out.json({"deleted": args.name})
    else:
        ctx.out.line(f"deleted {args.name}")
    return 0
