"""Allow ``python -m mailhops``."""

from mailhops.cli import main

raise SystemExit(main())
