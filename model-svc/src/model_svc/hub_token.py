"""The Hub token downloads send for gated repos: HF_TOKEN when it is set, else the one an admin
stored in secret-svc, else HF_HOME/token (where `hf auth login` writes it). Only its source is
ever reported, never its value."""

from __future__ import annotations

import enum
import logging
import re
from pathlib import Path

from bodhi_common.context import ADMIN_ROLE, current_caller
from bodhi_common.errors import InvalidArgument, PermissionDenied, ServiceError
from bodhi_common.vault import Vault

SECRET_NAME = "hf_token"  # noqa: S105 - the secret's name, not a secret
log = logging.getLogger(__name__)
_TOKEN = re.compile(r"[\x21-\x7e]{8,1024}")  # printable, no spaces: it goes in a header


class Source(enum.Enum):
    """Where the token in use comes from."""

    NONE = "none"
    ENV = "env"
    STORED = "stored"
    FILE = "file"


class HubTokens:
    """Reads the token for each download (the stored one through the vault's short cache) and
    lets admins store or remove one."""

    def __init__(self, env_token: str | None, home: Path, vault: Vault) -> None:
        self._env = env_token or None
        self._file = home / "token"
        self._vault = vault

    async def current(self) -> str | None:
        """The token to send, or None. With secret-svc unreachable the stored token is skipped
        (a warning is logged) rather than failing downloads that may not need one."""
        try:
            return (await self._resolve())[1]
        except ServiceError as exc:
            log.warning("the stored Hub token could not be read (%s); going without it", exc.code)
            return self._from_file()

    async def status(self) -> tuple[Source, bool]:
        """(where the token in use comes from, whether an admin stored one)."""
        source, _ = await self._resolve()
        stored = source is Source.STORED or await self._vault.get(SECRET_NAME) is not None
        return source, stored

    async def store(self, token: str) -> None:
        """Store an admin's token (replacing any stored one)."""
        _require_admin()
        if not _TOKEN.fullmatch(token):
            raise InvalidArgument(
                "a Hub token is 8 to 1024 printable characters without spaces",
                code="invalid_hub_token",
                param="token",
            )
        await self._vault.put(SECRET_NAME, token.encode())

    async def remove(self) -> None:
        """Remove the stored token (removing none is not an error)."""
        _require_admin()
        await self._vault.delete(SECRET_NAME)

    async def _resolve(self) -> tuple[Source, str | None]:
        if self._env:
            return Source.ENV, self._env
        stored = await self._vault.get(SECRET_NAME)
        if stored:
            return Source.STORED, stored.decode()
        from_file = self._from_file()
        return (Source.FILE, from_file) if from_file else (Source.NONE, None)

    def _from_file(self) -> str | None:
        try:
            return self._file.read_text().strip() or None
        except OSError:
            return None


def _require_admin() -> None:
    principal = current_caller().principal
    if principal is None or principal.role != ADMIN_ROLE:
        raise PermissionDenied("only an admin may change the Hub token", code="admin_only")
