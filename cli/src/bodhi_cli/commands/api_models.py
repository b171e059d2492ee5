"""`bodhi api-models list|create|delete|test` (/bodhi/v1/api-models): remote providers. The
key goes to the gateway once and is never printed; only its masked form is shown."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any
from urllib.parse import quote

from bodhi_cli.commands import Subparsers, command, group
from bodhi_cli.context import Context
from bodhi_cli.errors import ApiError, usage

PATH = "/bodhi/v1/api-models"


def register(sub: Subparsers) -> None:
    """Add `api-models` and its subcommands."""
    api = group(sub, "api-models", "remote OpenAI-compatible providers (power users)")
    command(api, "list", "list the API models", list_api_models)
    create = command(api, "create", "register a provider and the models it serves", create_model)
    create.add_argument("--base-url", required=True, help="e.g. https://api.openai.com/v1")
    keys = create.add_mutually_exclusive_group()
    keys.add_argument("--api-key", help="the key (visible to other local users: prefer the next)")
    keys.add_argument("--api-key-env", metavar="VAR", help="read the key from this variable")
    create.add_argument("--model", action="append", required=True, help="a model (repeatable)")
    create.add_argument("--prefix", help="what clients put before a model name, e.g. oai/")
    create.add_argument("--id", help="the API model's id (default: one is made)")
    delete = command(api, "delete", "remove an API model and its stored key", delete_model)
    delete.add_argument("id", metavar="ID")
    test = command(api, "test", "send a short prompt through a stored API model", test_model)
    test.add_argument("id", metavar="ID")
    test.add_argument("model", metavar="MODEL", help="the provider's model name")
    test.add_argument("--prompt", default="Hello", help="at most 30 characters (Hello)")


def api_key(args: argparse.Namespace, ctx: Context) -> str:
    """The key from --api-key, the variable --api-key-env names, or a prompt on a terminal."""
    if args.api_key:
        return str(args.api_key)
    if args.api_key_env:
        key = ctx.env.get(args.api_key_env)
        if not key:
            raise usage(f"--api-key-env: ${args.api_key_env} is not set")
        return key
    if sys.stdin.isatty():
        return getpass.getpass("API key: ")
    raise usage("give the provider's key with --api-key-env VAR (or --api-key)")


def _row(model: dict[str, Any]) -> list[str]:
    return [
        model["id"], model["base_url"], model.get("api_key_masked", ""),
        model.get("prefix") or "", ", ".join(model.get("models", [])),
    ]  # fmt: skip


def list_api_models(args: argparse.Namespace, ctx: Context) -> int:
    """GET /bodhi/v1/api-models, every page."""
    items = ctx.gateway().pages(PATH)
    if ctx.out.json_mode:
        ctx.out.json({"data": items, "total": len(items)})
    else:
        ctx.out.table(["ID", "BASE URL", "KEY", "PREFIX", "MODELS"], [_row(m) for m in items])
    return 0


def create_model(args: argparse.Namespace, ctx: Context) -> int:
    """POST /bodhi/v1/api-models."""
    body: dict[str, Any] = {
        "api_format": "openai", "base_url": args.base_url, "api_key": api_key(args, ctx),
        "models": args.model,
    }  # fmt: skip
    if args.prefix:
        body["prefix"] = args.prefix
    if args.id:
        body["id"] = args.id
    created = ctx.gateway().call("POST", PATH, json=body)
    if ctx.out.json_mode:
        ctx.out.json(created)
    else:
        ctx.out.line(f"created {created['id']} (key {created['api_key_masked']})")
    return 0


def delete_model(args: argparse.Namespace, ctx: Context) -> int:
    """DELETE /bodhi/v1/api-models/{id}."""
    ctx.gateway().call("DELETE", f"{PATH}/{quote(args.id, safe='')}")
    if ctx.out.json_mode:
        ctx.out.json({"deleted": args.id})
    else:
        ctx.out.line(f"deleted {args.id}")
    return 0


def test_model(args: argparse.Namespace, ctx: Context) -> int:
    """POST /bodhi/v1/api-models/test with the stored model's key; 1 when the provider fails."""
    body = {"id": args.id, "model": args.model, "prompt": args.prompt}
    result = ctx.gateway().call("POST", f"{PATH}/test", json=body)
    if ctx.out.json_mode:
        ctx.out.json(result)
    if not result.get("success"):
        raise ApiError(str(result.get("error") or "the provider failed"), "provider_error")
    if not ctx.out.json_mode:
        ctx.out.line(str(result.get("response") or ""))
    return 0
