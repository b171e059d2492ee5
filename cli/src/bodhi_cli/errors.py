"""What can go wrong, as the one line and the exit code the user gets."""

from __future__ import annotations

FAILED = 1  # the gateway answered with an error (HTTP 4xx/5xx, or an error in a stream)
USAGE = 2  # the command line or the configuration is wrong
UNREACHABLE = 3  # no answer from the gateway
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class CliError(Exception):
    """A failure to report as `bodhi: <message>` with an exit code."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ApiError(CliError):
    """The gateway's error envelope: {"error": {"message", "type", "code", "param"}}."""

    def __init__(self, message: str, code: str | None, status: int | None = None) -> None:
        super().__init__(f"{message} ({code})" if code else message, FAILED)
        self.code = code
        self.status = status


def usage(message: str) -> CliError:
    """A usage or configuration error (exit code 2)."""
    return CliError(message, USAGE)
