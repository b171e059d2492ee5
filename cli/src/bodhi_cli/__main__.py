"""`python -m bodhi_cli`, the same as the `bodhi` script."""

from bodhi_cli.main import main

raise SystemExit(main())
