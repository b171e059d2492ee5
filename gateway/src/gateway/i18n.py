"""Error messages in the caller's language: a catalog of templates per error code and locale
(`messages/<locale>.json`, shipped inside the package), chosen by `Accept-Language`.

The stable `code` never changes with the locale; only the message does. A template may name
`{detail}` (the service's own English message, which names the specific thing) and `{param}`
(the offending parameter)."""

from __future__ import annotations

import functools
import json
import string
from collections.abc import Mapping
from importlib import resources

DEFAULT_LOCALE = "en-US"
LOCALES = ("en-US", "fr-FR")
PLACEHOLDERS = frozenset({"detail", "param"})
# Primary language subtag → the locale we serve for it (fr, fr-FR, fr-CA... all read fr-FR).
_BY_LANGUAGE = {"*": DEFAULT_LOCALE} | {loc.split("-")[0].lower(): loc for loc in LOCALES}
# A header is small; anything longer is not worth parsing on an error path.
_MAX_HEADER = 512


def negotiate(accept_language: str | None) -> str:
    """The locale to answer in: the most preferred language we have (RFC 9110 q-values)."""
    if not accept_language:
        return DEFAULT_LOCALE
    best, best_q = DEFAULT_LOCALE, 0.0
    for item in accept_language[:_MAX_HEADER].split(","):
        tag, _, params = item.strip().partition(";")
        q = _quality(params)
        locale = _BY_LANGUAGE.get(tag.strip().split("-")[0].lower())
        if locale is not None and q > best_q:  # strictly greater: the first of equals wins
            best, best_q = locale, q
    return best


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def placeholders(template: str) -> set[str]:
    """The names a template interpolates."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


class Catalog:
    """Message templates by locale and code; en-US is the fallback locale."""

    def __init__(self, templates: Mapping[str, Mapping[str, str]]) -> None:
        self.templates = templates

    @classmethod
    def load(cls) -> Catalog:
        """The catalogs shipped in gateway/messages."""
        folder = resources.files("gateway") / "messages"
        return cls(
            {loc: json.loads((folder / f"{loc}.json").read_text("utf-8")) for loc in LOCALES}
        )

    def message(self, locale: str, code: str, detail: str, param: str | None = None) -> str:
        """The message for `code` in `locale`; a code without a template keeps its detail."""
        template = self.templates.get(locale, {}).get(code)
        if template is None:
            template = self.templates[DEFAULT_LOCALE].get(code)
        if template is None:
            return detail
        return template.format(detail=detail, param=param or "?")


@functools.cache
def catalog() -> Catalog:
    """The shipped catalogs, read once per process (on the first error, not at import)."""
    return Catalog.load()
