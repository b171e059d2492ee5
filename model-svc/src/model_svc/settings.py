"""model-svc settings, read once from the environment."""

from __future__ import annotations

from typing import Annotated

import msgspec

from bodhi_common.service_settings import ServiceSettings


class ModelSettings(ServiceSettings, frozen=True, kw_only=True, rename="upper"):
    """model-svc settings (variable names are the upper-cased field names)."""

    bodhi_grpc_listen: Annotated[
        str, msgspec.Meta(description="host:port the gRPC server listens on")
    ] = "127.0.0.1:50053"
