"""Structured logging: one JSON object per line on stdout, with the current request id."""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, TextIO

import msgspec

from bodhi_common.context import request_id_var

_LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "warning": logging.WARNING}
_LEVELS |= {"info": logging.INFO, "debug": logging.DEBUG, "trace": logging.DEBUG}
_encoder = msgspec.json.Encoder()
# Attributes every LogRecord has; anything else passed through `extra=` becomes a JSON field.
# uvicorn adds `color_message`, a copy of the message with terminal colours.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",
}


# Redaction by construction: fields named like a credential never show their value, and text
# that looks like one (a bearer header, our API tokens, provider and Hub keys, a JWT) is masked
# wherever it appears: the message, any extra field, an exception's text.
SECRET_FIELDS = frozenset({
    "authorization", "cookie", "set-cookie", "token", "access_token", "refresh_token",
    "id_token", "api_key", "password", "passphrase", "secret", "client_secret", "master_key",
})  # fmt: skip
_SECRET_TEXT = re.compile(
    r"(?i)(?P<cookie>(?:__Host-)?bodhiapp_(?:session_id|login)=)[^\s;\"']+"
    r"|(?P<bearer>bearer\s+)[^\s\"',;]+"
    r"|\b(?P<token>bodhiapp_|sk-|hf_)[A-Za-z0-9_\-]{6,}"
    r"|\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"
)


def redact(text: str) -> str:
    """`text` with anything that looks like a credential masked."""
    return _SECRET_TEXT.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    prefix = match.group("cookie") or match.group("bearer") or match.group("token") or ""
    return f"{prefix}***"


def _clean(key: str, value: Any) -> Any:
    if key.lower() in SECRET_FIELDS:
        return "***"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean("", v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """Renders a record as one JSON line: ts, level, service, logger, msg, request_id, extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object."""
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _clean(key, value)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return _encoder.encode(entry).decode()


def parse_level(name: str) -> int:
    """The logging level for a BODHI_LOG_LEVEL value (error|warn|info|debug|trace)."""
    try:
        return _LEVELS[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown log level {name!r}; use one of error, warn, info, debug"
        ) from None


def set_level(level: str) -> None:
    """Change the level of every logger at run time (BODHI_LOG_LEVEL edited by an admin)."""
    logging.getLogger().setLevel(parse_level(level))


def configure(service: str, level: str, stream: TextIO | None = None) -> None:
    """Send every logger's records, as JSON lines, to stdout (or `stream`) at the given level."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(parse_level(level))
    # Library chatter that would repeat every request at info level.
    logging.getLogger("asyncio").setLevel(logging.WARNING)
