"""Smoke-test reports: one JSON file per run, merged into docs/compatibility.md.

This package imports only the standard library, its own modules and
`harness.errors`; it never imports `pytest` or `distros`, so the table can be
rendered anywhere. The pytest plugin builds a `RunReport` and calls
`RunReport.write`; ``python -m reports table`` renders the table.
"""

from __future__ import annotations

from reports.errors import ReportError
from reports.files import load_report, write_report
from reports.outcome import decide
from reports.schema import SCHEMA_VERSION, RawReport
from reports.scrub import scrub
from reports.writer import RunReport, new_run_id

__all__ = [
    "SCHEMA_VERSION",
    "RawReport",
    "ReportError",
    "RunReport",
    "decide",
    "load_report",
    "new_run_id",
    "scrub",
    "write_report",
]
