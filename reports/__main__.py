"""Entry point of ``python -m reports``; see `reports.cli`."""

from __future__ import annotations

from reports.cli import main

raise SystemExit(main())
