"""The entry point every process shares: settings, logging, event loop, one-line fatal errors."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TextIO, TypeVar

import msgspec
import uvloop

from bodhi_common import logs
from bodhi_common.config import ConfigError, load
from bodhi_common.errors import StartupError

S = TypeVar("S", bound=msgspec.Struct)


def run(
    component: str,
    settings_type: type[S],
    main: Callable[[S], Coroutine[Any, Any, None]],
    log_stream: TextIO | None = None,
) -> None:
    """Load settings, configure logging (to stdout, or `log_stream`) and run `main` on uvloop;
    exit non-zero with one line on a configuration or start-up error."""
    try:
        settings = load(settings_type)
    except ConfigError as exc:
        _die(component, f"configuration error: {exc}", status=2)
    logs.configure(component, getattr(settings, "bodhi_log_level", "info"), log_stream)
    try:
        uvloop.run(main(settings))
    except StartupError as exc:
        _die(component, str(exc), status=1)
    except KeyboardInterrupt:
        pass


def _die(component: str, message: str, *, status: int) -> NoReturn:
    sys.stderr.write(f"{component}: {message}\n")
    sys.stderr.flush()
    sys.exit(status)
