"""`python -m aiproxy_svc`."""

from __future__ import annotations

from aiproxy_svc.server import SPEC
from aiproxy_svc.settings import AiProxySettings
from bodhi_common.bootstrap import service_main


def main() -> None:
    """Entry point."""
    service_main(SPEC, AiProxySettings)


if __name__ == "__main__":
    main()
