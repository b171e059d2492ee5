"""`python -m model_svc`."""

from __future__ import annotations

from bodhi_common.bootstrap import service_main
from model_svc.server import SPEC
from model_svc.settings import ModelSettings


def main() -> None:
    """Entry point."""
    service_main(SPEC, ModelSettings)


if __name__ == "__main__":
    main()
