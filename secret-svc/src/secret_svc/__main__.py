"""`python -m secret_svc [serve]` serves the API; other commands operate the vault (cli.py)."""

from __future__ import annotations

import sys

from bodhi_common.bootstrap import service_main
from bodhi_common.runner import run
from secret_svc.cli import operate, parser
from secret_svc.server import SPEC
from secret_svc.settings import SecretSettings


def main() -> None:
    """Entry point."""
    args = parser().parse_args()
    if args.command in (None, "serve"):
        service_main(SPEC, SecretSettings)
    else:
        run("secret-cli", SecretSettings, lambda settings: operate(settings, args), sys.stderr)


if __name__ == "__main__":
    main()
