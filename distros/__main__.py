"""``python -m distros``: print the registered distro names, comma-separated (for the Makefile and CI)."""

from __future__ import annotations

import distros

print(",".join(distros.names()))
