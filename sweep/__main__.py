"""``python -m sweep``."""

from sweep.cli import main

raise SystemExit(main())
