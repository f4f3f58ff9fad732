"""The manifest data files on disk, read once here with one kind of error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import ManifestError

ROOT = Path(__file__).resolve().parent
"""The `manifests/` package directory that holds releases/, images/ and overlays/."""


def shown(path: Path) -> str:
    """Return `path` as error messages show it: relative to the project, e.g. ``manifests/images/lab.yaml``."""
    try:
        return str(path.relative_to(ROOT.parent))
    except ValueError:
        return str(path)


def fresh(value: Any) -> Any:
    """Return a copy of plain YAML data with no object shared between two places.

    YAML anchors load as one shared object; copying them apart keeps later
    merges from changing several containers at once and keeps the dumper from
    writing anchors back out.
    """
    if isinstance(value, dict):
        return {key: fresh(item) for key, item in value.items()}
    if isinstance(value, list):
        return [fresh(item) for item in value]
    return value


def read_text(path: Path) -> str:
    """Return the text of a data file, or raise `ManifestError` if it is missing."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ManifestError(f"{shown(path)}: file is missing; restore it from git") from err


def load_yaml(path: Path) -> Any:
    """Load one YAML document from `path` as fresh plain data (see `fresh`)."""
    text = read_text(path)
    try:
        return fresh(yaml.safe_load(text))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ManifestError(f"{shown(path)}: invalid YAML{where}; fix the syntax") from err


def load_mapping(path: Path) -> dict[str, Any]:
    """Load a YAML file whose top level must be a mapping (an empty file counts as ``{}``)."""
    data = load_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ManifestError(f"{shown(path)}: top level is a {type(data).__name__}; write a mapping")
    return data
