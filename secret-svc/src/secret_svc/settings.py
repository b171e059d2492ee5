"""secret-svc settings, read once from the environment."""

from __future__ import annotations

from typing import Annotated

import msgspec

from bodhi_common.config import SECRET
from bodhi_common.service_settings import ServiceSettings

_SOURCES = ("BODHI_MASTER_KEY", "BODHI_MASTER_KEY_FILE", "BODHI_MASTER_PASSPHRASE")


class SecretSettings(ServiceSettings, frozen=True, kw_only=True, rename="upper"):
    """secret-svc settings (variable names are the upper-cased field names).

    The master key comes from exactly one of BODHI_MASTER_KEY, BODHI_MASTER_KEY_FILE and
    BODHI_MASTER_PASSPHRASE, or, when none is set, from the OS keyring.
    """

    bodhi_grpc_listen: Annotated[
        str, msgspec.Meta(description="host:port the gRPC server listens on")
    ] = "127.0.0.1:50052"
    bodhi_master_key: Annotated[
        str | None,
        msgspec.Meta(description="Vault master key: base64 of 32 random bytes", extra=SECRET),
    ] = None
    bodhi_master_key_file: Annotated[
        str | None,
        msgspec.Meta(description="File holding the master key (base64), e.g. a mounted secret"),
    ] = None
    bodhi_master_passphrase: Annotated[
        str | None,
        msgspec.Meta(
            description="A passphrase instead of a key, stretched once at start-up with scrypt",
            extra=SECRET,
        ),
    ] = None
    bodhi_keyring_service: Annotated[
        str, msgspec.Meta(description="OS keyring entry used when no master key is configured")
    ] = "bodhi-secret-svc"
    bodhi_secret_max_bytes: Annotated[
        int, msgspec.Meta(ge=1, le=1024 * 1024, description="Largest secret value in bytes")
    ] = 64 * 1024
    bodhi_audit_retention_days: Annotated[
        int, msgspec.Meta(ge=1, le=3650, description="Days audit records are kept")
    ] = 90
    bodhi_rewrap_batch_size: Annotated[
        int, msgspec.Meta(ge=1, le=10_000, description="Records re-encrypted per transaction")
    ] = 500

    def __post_init__(self) -> None:
        given = [self.bodhi_master_key, self.bodhi_master_key_file, self.bodhi_master_passphrase]
        if sum(value is not None for value in given) > 1:
            raise ValueError(f"set only one of {', '.join(_SOURCES)}")
