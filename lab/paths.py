"""Where the lab builder keeps its inputs (in the repo) and outputs (in the user cache)."""

from __future__ import annotations

import os
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
"""The builder's source directory, ``<repo>/lab``."""

REPO_DIR = LAB_DIR.parent
PINS_FILE = LAB_DIR / "pins.toml"
FILES_DIR = LAB_DIR / "files"
CONTAINERS_CONF = REPO_DIR / ".ci" / "containers.conf"


def cache_dir() -> Path:
    """Return the output root: ``${XDG_CACHE_HOME:-$HOME/.cache}/edgex-smoke/lab``.

    ``EDGEX_SMOKE_LAB_CACHE`` overrides it (used for cold-build measurements and tests).
    """
    override = os.environ.get("EDGEX_SMOKE_LAB_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgex-smoke" / "lab"
