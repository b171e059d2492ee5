"""Localized error messages: language negotiation, formatting, and a catalog that covers exactly
the error codes the system can emit (found by reading every member's source), in every locale."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, get

from bodhi_devstack.proc import free_port
from gateway.errors import CODE_OF_STATUS, EXCEPTION_HANDLERS
from gateway.i18n import DEFAULT_LOCALE, LOCALES, PLACEHOLDERS, Catalog, negotiate, placeholders

from support import Stack, gateway_client

ROOT = Path(__file__).resolve().parents[2]
# devstack stands in for external peers (the Hub, model providers): their codes are not ours.
NOT_OURS = ("devstack",)
# Codes built at run time (f-strings, concatenation): the source expression → every value it
# can take. A new dynamic code fails the scan until it is listed here with its values.
DYNAMIC: dict[str, set[str]] = {}


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en-US"),
        ("", "en-US"),
        ("fr", "fr-FR"),
        ("fr-FR", "fr-FR"),
        ("fr-CA", "fr-FR"),
        ("FR-be;q=0.4", "fr-FR"),
        ("de-DE, fr;q=0.5, en;q=0.4", "fr-FR"),
        ("en-GB, fr;q=0.9", "en-US"),
        ("fr;q=0.5, en-US;q=0.8", "en-US"),
        ("en;q=0.5, fr;q=0.5", "en-US"),  # equal weight: the first listed wins
        ("fr;q=0, de", "en-US"),  # q=0 means "not this one"
        ("fr;q=oops, en;q=0.1", "en-US"),
        ("*", "en-US"),
        ("de, ja", "en-US"),
        (";;;,, ,q=1", "en-US"),
    ],
)
def test_the_locale_follows_accept_language(header: str | None, locale: str) -> None:
    assert negotiate(header) == locale


def test_a_message_names_the_specific_thing_in_the_callers_language() -> None:
    catalog = Catalog.load()
    detail = "model 'qwen:7b' not found"
    english = catalog.message("en-US", "model_not_found", detail)
    french = catalog.message("fr-FR", "model_not_found", detail)
    assert english == f"The model you asked for is not served here ({detail})."
    assert french == f"Le modèle demandé n'est pas disponible ici ({detail})."
    null = catalog.message("fr-FR", "settings_metadata_error-null_value", "value is null", "x")
    assert null == "La valeur du paramètre x ne doit pas être nulle."


def test_braces_in_a_detail_are_text_not_placeholders() -> None:
    message = Catalog.load().message("en-US", "invalid_alias", "alias '{param}' is bad")
    assert message == "The alias is not valid (alias '{param}' is bad)."


def test_a_code_without_a_template_keeps_the_services_message() -> None:
    catalog = Catalog({"en-US": {"a": "A ({detail})."}, "fr-FR": {}})
    assert catalog.message("fr-FR", "unknown_code", "what went wrong") == "what went wrong"
    assert catalog.message("fr-FR", "a", "x") == "A (x)."  # a missing translation reads en-US
    assert catalog.message("xx-XX", "a", "x") == "A (x)."


def test_internal_errors_stay_generic_in_every_locale() -> None:
    catalog = Catalog.load()
    for locale in LOCALES:
        assert placeholders(catalog.templates[locale]["internal_error"]) == set()
        secret = catalog.message(locale, "internal_error", "connection to db:5432 failed")
        assert "5432" not in secret


# --- Completeness: every code the source can emit, in every catalog, and nothing else ---------


@dataclass
class Site:
    where: str
    has_param: bool


def test_every_emitted_code_has_a_message_in_every_catalog_and_no_other() -> None:
    emitted, unresolved = _emitted_codes()
    assert not unresolved, f"codes made at run time; list their values in DYNAMIC: {unresolved}"
    catalog = Catalog.load()
    for locale in LOCALES:
        known = set(catalog.templates[locale])
        missing = sorted(set(emitted) - known)
        unused = sorted(known - set(emitted))
        assert not missing, f"{locale} lacks messages for {missing}"
        assert not unused, f"{locale} has messages for codes nobody emits: {unused}"


def test_templates_are_sentences_with_known_placeholders() -> None:
    catalog = Catalog.load()
    english = catalog.templates[DEFAULT_LOCALE]
    for locale in LOCALES:
        for code, template in catalog.templates[locale].items():
            assert placeholders(template) <= PLACEHOLDERS, (locale, code, template)
            assert re.search(r"\w{3,}", re.sub(r"\{\w+\}", "", template)), (locale, code)
            assert template.format(detail="d", param="p")
            if locale != DEFAULT_LOCALE:
                assert template != english[code], f"{code} is not translated in {locale}"
                assert placeholders(template) == placeholders(english[code]), (locale, code)


def test_templates_name_param_only_where_every_emitter_gives_one() -> None:
    emitted, _ = _emitted_codes()
    templates = Catalog.load().templates[DEFAULT_LOCALE]
    for code, template in templates.items():
        if "param" in placeholders(template):
            lacking = [site.where for site in emitted[code] if not site.has_param]
            assert not lacking, f"{code} is raised without param= at {lacking}"


def _emitted_codes() -> tuple[dict[str, list[Site]], list[str]]:
    """code → where it is raised, from every member's source; and codes that cannot be read."""
    trees = {
        path: ast.parse(path.read_text())
        for path in sorted(ROOT.glob("*/src/**/*.py"))
        if not path.name.endswith(("_pb2.py", "_pb2_grpc.py"))
        and path.relative_to(ROOT).parts[0] not in NOT_OURS
    }
    signatures = _signatures(trees.values())
    shared = _constants(tree for tree in trees.values())
    emitted: dict[str, list[Site]] = defaultdict(list)
    unresolved: list[str] = []
    for path, tree in trees.items():
        constants = shared | _constants([tree])
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            for expr, has_param in _code_expressions(node, signatures):
                codes = _values(expr, constants)
                if codes is None:
                    unresolved.append(f"{where} {ast.unparse(expr)}")
                for code in codes or ():
                    emitted[code].append(Site(where, has_param))
    for code in CODE_OF_STATUS.values():  # the framework's rejections, mapped in gateway.errors
        emitted[code].append(Site("gateway.errors.CODE_OF_STATUS", False))
    return emitted, unresolved


def _code_expressions(node: ast.AST, signatures: dict[str, set[int]]) -> list[tuple[Any, bool]]:
    """The expressions `node` passes or declares as an error code, each with: is a param given."""
    if isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "default_code" for t in node.targets
    ):
        return [(node.value, False)]
    if not isinstance(node, ast.Call):
        return []
    has_param = any(k.arg == "param" and not _is_none(k.value) for k in node.keywords)
    found = [(k.value, has_param) for k in node.keywords if k.arg == "code"]
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    for index in signatures.get(name, ()):
        if index < len(node.args):
            found.append((node.args[index], has_param))
    return found


def _values(expr: ast.expr, constants: dict[str, str]) -> set[str] | None:
    """The codes an expression stands for: empty when it passes a code through (a variable, an
    attribute), None when it builds one that DYNAMIC does not list."""
    if isinstance(expr, ast.Constant):
        return {expr.value} if isinstance(expr.value, str) else set()
    if isinstance(expr, ast.IfExp):
        body, orelse = _values(expr.body, constants), _values(expr.orelse, constants)
        return None if body is None or orelse is None else body | orelse
    if isinstance(expr, ast.Name):
        return {constants[expr.id]} if expr.id in constants else set()
    built = isinstance(expr, ast.JoinedStr | ast.BinOp) or (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in {"format", "join"}
    )
    if built:
        return DYNAMIC.get(ast.unparse(expr))
    return set()


def _signatures(trees: Any) -> dict[str, set[int]]:
    """Function name → the positions of a parameter named `code` (self not counted)."""
    found: dict[str, set[int]] = defaultdict(set)
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [a.arg for a in node.args.posonlyargs + node.args.args]
                names = names[1:] if names[:1] in (["self"], ["cls"]) else names
                if "code" in names:
                    found[node.name].add(names.index("code"))
    return found


def _constants(trees: Any) -> dict[str, str]:
    """Module-level UPPER_CASE string constants (error codes are often named once)."""
    found: dict[str, str] = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                value = node.value.value
                names = [t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()]
                found |= {name: value for name in names if isinstance(value, str)}
    return found


def _is_none(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is None


# --- Over HTTP: the gateway's own envelopes ------------------------------------------------


async def test_an_unknown_route_answers_in_french_with_the_same_code(
    client: httpx.AsyncClient,
) -> None:
    french = await client.get("/bodhi/v1/nothing-here", headers={"Accept-Language": "fr-CA"})
    english = await client.get("/bodhi/v1/nothing-here")
    assert (french.status_code, english.status_code) == (404, 404)
    assert french.json()["error"] == {
        "message": "Cette route n'existe pas sur ce serveur.",
        "type": "not_found_error",
        "code": "route_not_found",
    }
    assert english.json()["error"]["message"] == "There is no such route on this server."
    assert english.json()["error"]["code"] == "route_not_found"
    assert (french.headers["content-language"], english.headers["content-language"]) == (
        "fr-FR",
        "en-US",
    )


async def test_a_validation_error_names_the_field_in_french(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/bodhi/v1/setup", json={"name": "short"}, headers={"Accept-Language": "fr"}
    )
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["param"]) == (400, "invalid_request", "name")
    assert error["message"].startswith("La requête n'est pas valide (name: ")


async def test_an_unexpected_failure_is_generic_in_french() -> None:
    @get("/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2 at db.internal:5432")

    app = Litestar([boom], exception_handlers=EXCEPTION_HANDLERS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom", headers={"Accept-Language": "fr-FR"})
    assert response.status_code == 500
    assert response.json()["error"] == {
        "message": "Une erreur interne s'est produite ; réessayez plus tard.",
        "type": "internal_server_error",
        "code": "internal_error",
    }


async def test_a_downstream_503_is_localized_and_names_the_service(stack: Stack) -> None:
    stack.addresses["auth"] = f"127.0.0.1:{free_port()}"  # nothing listens there
    async with gateway_client(stack) as client:
        response = await client.get("/bodhi/v1/info", headers={"Accept-Language": "fr"})
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (503, "service_unavailable")
    assert error["message"].startswith("Un service nécessaire à cette requête est indisponible")
    assert "auth" in error["message"]
