"""Incremental steps: a stamp per step, keyed by a digest of the step's inputs."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

Report = Callable[[str], None]


def stderr_report(line: str) -> None:
    """Print one progress line to standard error."""
    print(line, file=sys.stderr, flush=True)


def files_digest(paths: Iterable[Path], *, root: Path) -> str:
    """Return a sha256 over the relative names and contents of `paths` (directories walked, sorted)."""
    files: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files.update(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        elif path.is_file():
            files.add(path)
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def step_key(step: str, *parts: str) -> str:
    """Combine a step name and its input digests into one key."""
    return hashlib.sha256("\0".join((step, *parts)).encode()).hexdigest()


@dataclass
class StampStore:
    """Stamp files ``<root>/<step>.json`` holding the key a step last finished with."""

    root: Path

    def _path(self, step: str) -> Path:
        return self.root / (step.replace("/", "_").replace(" ", "_") + ".json")

    def key(self, step: str) -> str | None:
        """Return the key `step` last finished with, or None."""
        try:
            data = json.loads(self._path(step).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        key = data.get("key") if isinstance(data, dict) else None
        return key if isinstance(key, str) else None

    def record(self, step: str, key: str, seconds: float) -> None:
        """Remember that `step` finished with `key` after `seconds`."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(step)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"step": step, "key": key, "seconds": round(seconds, 1)}), encoding="utf-8")
        tmp.replace(path)

    def forget(self, step: str) -> None:
        """Drop the stamp of `step`, so it runs next time."""
        self._path(step).unlink(missing_ok=True)


@dataclass
class Steps:
    """Runs steps that are stale, skips fresh ones, and reports each step's duration."""

    stamps: StampStore
    force: bool = False
    report: Report = stderr_report
    timings: dict[str, float | None] = field(default_factory=dict)
    """Seconds per step run, None for a step found fresh."""

    def skip(self, step: str) -> None:
        """Report `step` as cached without looking at its stamp (its product's consumer is current)."""
        self.timings[step] = None
        self.report(f"lab: {step} … cached")

    def run(self, step: str, key: str, *, build: Callable[[], None], exists: Callable[[], bool]) -> bool:
        """Run `build` unless `step` is stamped with `key` and `exists()` holds; return True if it ran.

        Args:
            step: Name printed in the progress line, e.g. ``go build core-data``.
            key: Digest of every input of the step.
            build: Makes the product; raises on failure (the stamp is then dropped).
            exists: Tells whether the product is still there (an image, a file).
        """
        if not self.force and self.stamps.key(step) == key and exists():
            self.skip(step)
            return False
        self.stamps.forget(step)
        self.report(f"lab: {step} …")
        started = time.monotonic()
        build()
        seconds = time.monotonic() - started
        self.stamps.record(step, key, seconds)
        self.timings[step] = seconds
        self.report(f"lab: {step} … {seconds:.1f} s")
        return True
