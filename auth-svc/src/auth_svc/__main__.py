"""`python -m auth_svc`."""

from __future__ import annotations

from auth_svc.server import SPEC
from auth_svc.settings import AuthSettings
from bodhi_common.bootstrap import service_main


def main() -> None:
    """Entry point."""
    service_main(SPEC, AuthSettings)


if __name__ == "__main__":
    main()
