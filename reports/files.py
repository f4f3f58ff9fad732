"""Reading and writing report files.

A report is written atomically: into a temporary file in the target directory,
flushed to disk, then renamed over ``<run_id>.json``. A reader therefore sees
either the old file or the whole new one, and a crash leaves no half-written
report. The temporary name starts with a dot and ends in ``.tmp``, so a
directory scan for ``*.json`` never picks it up.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports.errors import ReportError
from reports.schema import RawReport
from reports.scrub import scrub
from reports.validate import validate

_SAFE_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) so that no reader ever sees a partial file.

    Raises:
        OSError: The directory cannot be created or written; no temporary file is left behind.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as sink:
            sink.write(text)
            sink.flush()
            os.fsync(sink.fileno())
        tmp.chmod(0o644)  # mkstemp makes it 0600; a report is meant to be read
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # Make the rename itself durable; some filesystems cannot fsync a directory, which is fine.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_report(report: Mapping[str, Any], directory: Path | str) -> Path:
    """Scrub, check and atomically write `report` as ``<directory>/<run_id>.json``.

    Args:
        report: A report, usually `RunReport.to_dict()`.
        directory: Where to write; created if missing.

    Returns:
        The path written.

    Raises:
        ReportError: The report does not have the schema's shape, its run_id is not
            a safe file name, or the file cannot be written.
    """
    clean = scrub(report)
    run_id = clean.get("run_id")
    if not isinstance(run_id, str) or not _SAFE_RUN_ID.fullmatch(run_id):
        raise ReportError(f"run_id {run_id!r} cannot be a file name; use letters, digits, '.', '_' and '-'")
    validate(clean, source=f"report {run_id}")
    path = Path(directory) / f"{run_id}.json"
    text = json.dumps(clean, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        write_text_atomic(path, text)
    except OSError as err:
        raise ReportError(f"{path}: cannot write the report: {err.strerror or err}") from err
    return path


def load_report(path: Path | str) -> RawReport:
    """Read and check one report file.

    Raises:
        ReportError: One line naming `path`: unreadable, not JSON, another schema
            version, or a missing or mistyped field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ReportError(f"{path}: cannot read the report: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise ReportError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); not a report") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ReportError(
            f"{path}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno}); was the file cut short?"
        ) from err
    return validate(data, source=str(path))
