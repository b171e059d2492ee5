"""model-svc settings, read once from the environment (HF_* keep huggingface_hub's names)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from bodhi_common.config import SECRET, Seconds
from bodhi_common.service_settings import VaultClientSettings


class ModelSettings(VaultClientSettings, frozen=True, kw_only=True, rename="upper"):
    """model-svc settings (variable names are the upper-cased field names)."""

    bodhi_grpc_listen: Annotated[
        str, msgspec.Meta(description="host:port the gRPC server listens on")
    ] = "127.0.0.1:50053"
    hf_home: Annotated[
        str, msgspec.Meta(description="Hugging Face home; the model cache is HF_HOME/hub")
    ] = "~/.cache/huggingface"
    hf_endpoint: Annotated[str, msgspec.Meta(description="Hugging Face Hub URL")] = (
        "https://huggingface.co"
    )
    hf_token: Annotated[
        str | None,
        msgspec.Meta(
            description="Hub token for gated repos (else the stored one, else HF_HOME/token)",
            extra=SECRET,
        ),
    ] = None
    hf_hub_offline: Annotated[
        bool, msgspec.Meta(description="Serve the cache only; pulls fail clearly")
    ] = False
    bodhi_download_workers: Annotated[
        int, msgspec.Meta(ge=1, le=16, description="Downloads running at once")
    ] = 2
    bodhi_download_parts: Annotated[
        int, msgspec.Meta(ge=1, le=16, description="Parallel ranged connections per large file")
    ] = 4
    bodhi_download_part_min_mb: Annotated[
        int, msgspec.Meta(ge=1, description="Smallest part, in MiB, worth its own connection")
    ] = 64
    bodhi_download_stall_seconds: Annotated[
        Seconds, msgspec.Meta(description="A connection with no byte for this long is retried")
    ] = 30.0
    bodhi_download_lease_seconds: Annotated[
        Seconds,
        msgspec.Meta(description="A download whose worker went silent this long is resumed"),
    ] = 15.0
    bodhi_hub_timeout_seconds: Annotated[
        Seconds, msgspec.Meta(description="Connect/read timeout of Hub requests")
    ] = 30.0
    bodhi_catalog_file: Annotated[
        str | None,
        msgspec.Meta(description="A models.yaml catalog replacing the one shipped"),
    ] = None

    bodhi_hub_token_cache_seconds: Annotated[
        Seconds, msgspec.Meta(description="How long a replica trusts the stored Hub token it read")
    ] = 30.0

    @property
    def home(self) -> Path:
        """HF_HOME with `~` expanded."""
        return Path(self.hf_home).expanduser()

    @property
    def hub_cache(self) -> Path:
        """The huggingface_hub cache directory."""
        return self.home / "hub"
