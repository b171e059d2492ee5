"""What a command runs with: the configuration, the output, and (lazily) the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bodhi_cli.config import Config
from bodhi_cli.errors import usage
from bodhi_cli.gateway import Gateway
from bodhi_cli.output import Output


@dataclass
class Context:
    """One run of the command line."""

    config: Config
    out: Output
    env: Mapping[str, str]
    _gateway: Gateway | None = field(default=None, repr=False)

    def gateway(self) -> Gateway:
        """The gateway, with the API token (a usage error when there is none)."""
        if self._gateway is None:
            if not self.config.token:
                raise usage(
                    "no API token: set BODHI_TOKEN or run `bodhi login --token ...` "
                    "(tokens are created from a logged-in browser session)"
                )
            self._gateway = Gateway(self.config.url, self.config.token)
        return self._gateway

    def close(self) -> None:
        """Close the gateway's connections, if opened."""
        if self._gateway is not None:
            self._gateway.close()
