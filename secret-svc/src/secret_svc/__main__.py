"""`python -m secret_svc`."""

from __future__ import annotations

from bodhi_common.bootstrap import service_main
from secret_svc.server import SPEC
from secret_svc.settings import SecretSettings


def main() -> None:
    """Entry point."""
    service_main(SPEC, SecretSettings)


if __name__ == "__main__":
    main()
